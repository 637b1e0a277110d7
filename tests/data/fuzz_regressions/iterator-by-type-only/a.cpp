// An iterator known only by its type (a class's `Iterator` alias, no recognised view kind) erased
// and then used: LL106 built its message from the missing view kind (KeyError: None). Found by
// fuzzing (seed 300); the same crash happens on valid code.
#include <map>
struct Ranges {
    std::map<long, long> spans;
    using Iterator = std::map<long, long>::iterator;
    long Drop(Iterator at);
};
long Ranges::Drop(Iterator at) {
    spans.erase(at);
    return at->second;
}
