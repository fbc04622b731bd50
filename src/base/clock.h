// Time as an injected dependency.
//
// Logic never calls std::chrono::*::now() itself: it asks the clock it was
// given (in production the reactor's steady clock, in simulation a manual
// one), so that a simulator can drive time deterministically.
#pragma once

#include <chrono>
#include <cstdint>

namespace tl {

using steady_time = std::chrono::steady_clock::time_point;
using duration_ns = std::chrono::nanoseconds;

class clock_source {
public:
    virtual ~clock_source() = default;
    [[nodiscard]] virtual steady_time now() const noexcept = 0;
};

class system_steady_clock final : public clock_source {
public:
    steady_time now() const noexcept override { return std::chrono::steady_clock::now(); }
};

// A clock that only moves when told to; for tests and the simulator.
class manual_clock final : public clock_source {
public:
    steady_time now() const noexcept override { return _now; }
    void advance(duration_ns by) noexcept { _now += by; }

private:
    steady_time _now{};
};

}  // namespace tl
