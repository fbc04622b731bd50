// Typed results: a value or a subsystem's error, never an exception.
//
// Each subsystem declares its own error type (an `errc` enum, or a small
// struct carrying one) and returns `result<T, its_error>`. Errors are mapped
// to other vocabularies (Kafka error codes, exit statuses) only at the edge.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "base/assert.h"

namespace tl {

// Wraps an error so that `result<T, E>` can be built from it unambiguously,
// even when T and E are convertible to each other.
template <typename E>
struct failure {
    E error;
};
template <typename E>
failure(E) -> failure<E>;

template <typename T, typename E>
class [[nodiscard]] result {
public:
    using value_type = T;
    using error_type = E;

    result(T value) : _state(std::in_place_index<0>, std::move(value)) {}  // NOLINT
    template <typename F>
    result(failure<F> f) : _state(std::in_place_index<1>, std::move(f.error)) {}  // NOLINT

    bool ok() const noexcept { return _state.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    T& value() & {
        TL_ASSERT(ok(), "value() of a failed result");
        return std::get<0>(_state);
    }
    const T& value() const& {
        TL_ASSERT(ok(), "value() of a failed result");
        return std::get<0>(_state);
    }
    T&& value() && {
        TL_ASSERT(ok(), "value() of a failed result");
        return std::get<0>(std::move(_state));
    }
    const E& error() const& {
        TL_ASSERT(!ok(), "error() of a successful result");
        return std::get<1>(_state);
    }
    T& operator*() & { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

private:
    std::variant<T, E> _state;
};

template <typename E>
class [[nodiscard]] result<void, E> {
public:
    using value_type = void;
    using error_type = E;

    result() = default;
    template <typename F>
    result(failure<F> f) : _error(std::move(f.error)), _ok(false) {}  // NOLINT

    bool ok() const noexcept { return _ok; }
    explicit operator bool() const noexcept { return ok(); }
    void value() const { TL_ASSERT(ok(), "value() of a failed result"); }
    const E& error() const& {
        TL_ASSERT(!ok(), "error() of a successful result");
        return _error;
    }

private:
    E _error{};
    bool _ok = true;
};

}  // namespace tl
