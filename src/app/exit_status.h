// Exit statuses of tidelogd and tidectl, in one place so that the systemd unit
// (RestartPreventExitStatus=2), the docs and the tests agree.
#pragma once

namespace tl::app {

enum class exit_status : int {
    ok = 0,
    // Something failed at run time and may succeed if tried again: the data
    // directory is locked by another daemon (perhaps one still shutting
    // down), the reactor could not start, or shutdown exceeded its timeout.
    failure = 1,
    // The operator must change something first: a bad flag, key or value, or
    // an unusable data directory. Restarting without a fix cannot help.
    config_error = 2,
};

constexpr int to_int(exit_status status) noexcept {
    return static_cast<int>(status);
}

}  // namespace tl::app
