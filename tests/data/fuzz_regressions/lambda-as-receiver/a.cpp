// A lambda is the receiver of a call: the facts once recorded the receiver's fate on the lambda
// (AttributeError: 'Lambda' object has no attribute 'receiver_of'). Found by fuzzing.
void f(int x) {
    [](){}.swap(x);
}
