#include "base/assert.h"

#include <unistd.h>

namespace tl::detail {

void assert_fail(const char* expression, const char* file, int line, const char* function,
                 const char* message) noexcept {
    // fprintf to an unbuffered stderr: no allocation, safe on any thread.
    std::fprintf(stderr, "tidelog: assertion failed: %s (%s) at %s:%d in %s\n", expression,
                 message, file, line, function);
    std::fflush(stderr);
    std::abort();
}

}  // namespace tl::detail
