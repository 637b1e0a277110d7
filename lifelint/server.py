"""`lifelint server`: a Language Server (pygls) over stdio.

On open, change and save it publishes the diagnostics of that document, checked with its whole
project as context (`lifelint.workspace`: the other files' facts stay in memory and come from
the fact cache); each diagnostic carries the finding's steps as related information, a link to
the rule's documentation, a quick fix that inserts a suppression comment with a `-- why`
placeholder, and hover text from the rule's doc.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from lifelint import __version__
from lifelint.discovery import language_of
from lifelint.model import Level, Location, ReportedFinding
from lifelint.workspace import Workspace

SOURCE = "lifelint"
CHANGE_DELAY = 0.05  # seconds an edit waits for the next before it is checked
SEVERITY = {Level.ERROR: T.DiagnosticSeverity.Error, Level.WARNING: T.DiagnosticSeverity.Warning,
            Level.NOTE: T.DiagnosticSeverity.Information}


def _range(loc: Location, lines: list[str] | None = None) -> T.Range:
    """LSP range (0-based, UTF-16 columns) of a 1-based, code-point-column location."""
    def utf16(line_no: int, col: int) -> int:
        if lines is None or not 0 < line_no <= len(lines):
            return col - 1
        text = lines[line_no - 1][:col - 1]
        return len(text.encode("utf-16-le")) // 2

    return T.Range(T.Position(loc.line - 1, utf16(loc.line, loc.col)), T.Position(loc.end_line - 1, utf16(loc.end_line, loc.end_col)))


def suppression_edit(line_text: str, code: str, line: int, rust: bool = False) -> T.TextEdit:
    """A comment on its own line above `line` (0-based), indented like it: it covers that line."""
    indent = line_text[:len(line_text) - len(line_text.lstrip())]
    return T.TextEdit(T.Range(T.Position(line, 0), T.Position(line, 0)),
                      f"{indent}// lifelint: ignore[{code}] -- why\n")


class LifelintServer(LanguageServer):
    def __init__(self):
        super().__init__("lifelint", __version__)
        self.workspaces: dict[str, Workspace] = {}  # context root -> workspace
        self.findings: dict[str, list[ReportedFinding]] = {}  # uri -> last findings
        self.pending: dict[str, int] = {}  # uri -> version of the latest edit not yet checked

    def workspace_of(self, path: str) -> Workspace:
        probe = Workspace.for_file(path)
        key = str(probe.root)
        if key not in self.workspaces:
            self.workspaces[key] = probe
        return self.workspaces[key]

    def lint(self, uri: str) -> None:
        path = to_fs_path(uri)
        if not path or language_of(path) is None:
            return
        doc = self.workspace.get_text_document(uri)
        ws = self.workspace_of(path)
        try:
            result = ws.check(path, doc.source)
        except Exception as e:  # a bug must not take the editor's server down
            self.window_log_message(T.LogMessageParams(T.MessageType.Error, f"lifelint: {type(e).__name__}: {e}"))
            return
        me = os.path.relpath(os.path.abspath(path), ws.display_root).replace(os.sep, "/")
        findings = [f for f in result.findings if f.location.path == me]
        self.findings[uri] = findings
        lines = doc.source.split("\n")
        diags = [self.diagnostic(f, ws.display_root, lines, me) for f in findings]
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=uri, diagnostics=diags, version=doc.version))

    def diagnostic(self, f: ReportedFinding, root: Path, lines: list[str], me: str) -> T.Diagnostic:
        from lifelint.registry import rule_by_code

        rule = rule_by_code(f.code)
        related = [T.DiagnosticRelatedInformation(
            T.Location(from_fs_path(str(root / loc.path)), _range(loc, lines if loc.path == me else None)), msg)
            for loc, msg in f.related]
        return T.Diagnostic(
            range=_range(f.location, lines),
            message=f.full_message,
            severity=SEVERITY.get(Level(f.level), T.DiagnosticSeverity.Warning),
            code=f.code,
            code_description=T.CodeDescription(href=rule.help_uri()) if rule else None,
            source=SOURCE,
            related_information=related or None,
            data={"name": f.name},
        )


def rule_markdown(code: str) -> str | None:
    from lifelint.registry import rule_by_code

    r = rule_by_code(code)
    if r is None:
        return None
    return f"**{r.code} {r.name}**: {r.summary}\n\n{r.doc()}"


def make_server() -> LifelintServer:
    server = LifelintServer()

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: LifelintServer, params: T.DidOpenTextDocumentParams):
        ls.lint(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: LifelintServer, params: T.DidChangeTextDocumentParams):
        # A burst of edits is checked once, at its last version: with the nursery rules a check
        # after an edit of a big project takes seconds, and checks of versions already superseded
        # would queue up behind each other (a save would wait for all of them).
        uri, version = params.text_document.uri, params.text_document.version
        ls.pending[uri] = version
        await asyncio.sleep(CHANGE_DELAY)
        if ls.pending.get(uri) != version:
            return  # a later edit (its own task checks it) or a save (checked already)
        del ls.pending[uri]
        ls.lint(uri)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: LifelintServer, params: T.DidSaveTextDocumentParams):
        ls.pending.pop(params.text_document.uri, None)
        ls.lint(params.text_document.uri)

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: LifelintServer, params: T.DidCloseTextDocumentParams):
        ls.findings.pop(params.text_document.uri, None)
        ls.pending.pop(params.text_document.uri, None)
        path = to_fs_path(params.text_document.uri)
        if path:
            for ws in ls.workspaces.values():
                ws.forget_buffer(path)
        ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(T.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def files_changed(ls: LifelintServer, params: T.DidChangeWatchedFilesParams):
        for ws in ls.workspaces.values():  # created or deleted files: discover again
            ws.forget_files()

    @server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                    T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))
    def code_action(ls: LifelintServer, params: T.CodeActionParams):
        uri = params.text_document.uri
        doc = ls.workspace.get_text_document(uri)
        lines = doc.source.split("\n")
        actions = []
        for d in params.context.diagnostics:
            if d.source != SOURCE or not d.code:
                continue
            line = d.range.start.line
            text = lines[line] if line < len(lines) else ""
            edit = suppression_edit(text, str(d.code), line)
            actions.append(T.CodeAction(
                title=f"Suppress {d.code} on this line (lifelint: ignore)",
                kind=T.CodeActionKind.QuickFix,
                diagnostics=[d],
                edit=T.WorkspaceEdit(changes={uri: [edit]}),
            ))
        return actions

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls: LifelintServer, params: T.HoverParams):
        pos = params.position
        for f in ls.findings.get(params.text_document.uri, ()):
            loc = f.location
            if loc.line - 1 <= pos.line <= loc.end_line - 1:
                text = rule_markdown(f.code)
                if text:
                    return T.Hover(T.MarkupContent(T.MarkupKind.Markdown, f"{f.full_message}\n\n---\n\n{text}"))
        return None

    return server


def main() -> None:
    make_server().start_io()
