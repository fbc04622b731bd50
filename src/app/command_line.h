// tidelogd's command line, split into what it asks for (run, --help,
// --version), the config file, and flags that override config keys.
//
// Every config key has a flag: `data_dir` is `--data-dir DIR` or
// `--data-dir=DIR`. Flags are applied in order, so a later one wins (a
// wrapper script can append overrides). Values are not checked here: that is
// overlay_flags()'s job, with the same rules as the YAML file.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"

namespace tl::app {

enum class daemon_action : uint8_t { run, show_help, show_version };

struct daemon_command_line {
    daemon_action action = daemon_action::run;
    std::string config_path;  // empty: built-in defaults only
    std::vector<flag_setting> flags;
};

// `arguments` excludes the program name (argv[0]).
config_result<daemon_command_line> parse_daemon_command_line(
    std::span<const std::string_view> arguments);

// The --help text, listing every flag with its meaning and default.
std::string daemon_usage(const broker_config& defaults);

}  // namespace tl::app
