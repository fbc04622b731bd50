#include "app/command_line.h"

#include <algorithm>

#include <fmt/format.h>

namespace tl::app {
namespace {

constexpr std::string_view config_flag = "--config";

bool is_flag(std::string_view argument) {
    return argument.starts_with("--");
}

}  // namespace

config_result<daemon_command_line> parse_daemon_command_line(
    std::span<const std::string_view> arguments) {
    daemon_command_line parsed;
    // --help and --version answer even when other arguments are wrong.
    for (const std::string_view argument : arguments) {
        if (argument == "--help" || argument == "-h") {
            parsed.action = daemon_action::show_help;
            return parsed;
        }
        if (argument == "--version") {
            parsed.action = daemon_action::show_version;
            return parsed;
        }
    }
    for (size_t i = 0; i < arguments.size(); ++i) {
        const std::string_view argument = arguments[i];
        if (!is_flag(argument)) {
            return failure{config_error{std::string(argument),
                                        "unexpected argument; tidelogd takes only flags, "
                                        "see --help",
                                        ""}};
        }
        const size_t equals = argument.find('=');
        const std::string_view name = argument.substr(0, equals);
        std::string_view value;
        if (equals != std::string_view::npos) {
            value = argument.substr(equals + 1);
        } else if (i + 1 < arguments.size() && !is_flag(arguments[i + 1])) {
            value = arguments[++i];
        } else {
            return failure{config_error{std::string(name), "missing value", ""}};
        }

        if (name == config_flag) {
            if (!parsed.config_path.empty()) {
                return failure{config_error{std::string(name), "given twice", ""}};
            }
            if (value.empty()) {
                return failure{config_error{std::string(name), "missing value", ""}};
            }
            parsed.config_path = std::string(value);
            continue;
        }
        std::string key(name.substr(2));
        std::replace(key.begin(), key.end(), '-', '_');
        const config_key* found = find_config_key(key);
        if (found == nullptr || found->flag != name) {
            return failure{config_error{std::string(name), "unknown flag; see --help", ""}};
        }
        parsed.flags.push_back(flag_setting{std::move(key), std::string(name), std::string(value)});
    }
    return parsed;
}

std::string daemon_usage(const broker_config& defaults) {
    std::string text =
        "usage: tidelogd [--config FILE] [--KEY VALUE ...]\n"
        "\n"
        "Tidelog broker daemon. Settings come from built-in defaults, then the YAML\n"
        "file given with --config, then flags (a later flag wins). Every config key\n"
        "has a flag: data_dir is --data-dir. Stops cleanly on SIGTERM or SIGINT.\n"
        "\n"
        "  --config FILE   YAML config file (see config/tidelog.yaml)\n"
        "  --help, -h      print this help and exit\n"
        "  --version       print the version and exit\n"
        "\n";
    for (const config_key& key : config_keys()) {
        text += fmt::format("  {} {}\n      {} (default: {})\n", key.flag, key.value_name,
                            key.meaning, key.render(defaults));
    }
    text +=
        "\n"
        "exit status: 0 stopped by SIGTERM/SIGINT (or --help, --version);\n"
        "             1 runtime failure: data directory in use, reactor start-up\n"
        "               failed, or shutdown exceeded shutdown_timeout_ms;\n"
        "             2 configuration error: bad flag, key or value, unusable\n"
        "               data directory (one line on stderr names it).\n";
    return text;
}

}  // namespace tl::app
