// Assertions that stay on in every build type (release included).
//
// TL_ASSERT is for programmer errors: a broken invariant means the process
// state can no longer be trusted, so we print where and why and abort.
// Operating errors (a full disk, a bad client frame) are never asserted:
// they travel as typed results (see result.h).
#pragma once

#include <cstdio>
#include <cstdlib>

namespace tl::detail {

[[noreturn, gnu::cold, gnu::noinline]] void assert_fail(const char* expression, const char* file,
                                                        int line, const char* function,
                                                        const char* message) noexcept;

}  // namespace tl::detail

#define TL_ASSERT(condition, ...)                                                              \
    do {                                                                                       \
        if (__builtin_expect(!(condition), 0)) [[unlikely]] {                                  \
            ::tl::detail::assert_fail(#condition, __FILE__, __LINE__, __func__,                \
                                      ::tl::detail::assert_message(__VA_ARGS__));              \
        }                                                                                      \
    } while (false)

#define TL_UNREACHABLE(message)                                                                \
    ::tl::detail::assert_fail("unreachable", __FILE__, __LINE__, __func__, message)

namespace tl::detail {
constexpr const char* assert_message() noexcept { return ""; }
constexpr const char* assert_message(const char* message) noexcept { return message; }
}  // namespace tl::detail
