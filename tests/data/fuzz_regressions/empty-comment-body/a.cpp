// A deallocator whose body is only an empty comment (`/**/`): LL108 quoted the comment's first
// line, and an empty comment has none (IndexError). Found by fuzzing (seed 301).
struct buffer;
buffer* make_buffer() { return reinterpret_cast<buffer*>(new char[16]); }
void free_buffer(buffer* b) { /**/ }
