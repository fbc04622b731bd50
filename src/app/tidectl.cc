// tidectl: the operator's tool. Subcommands are rows of one table: the words
// that name them, the arguments they take, and the function that runs them.
// Later issues add Kafka commands as more rows.
//
// Exit status: 0 success, 1 the command failed, 2 usage or configuration error.
#include <algorithm>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/config.h"
#include "app/exit_status.h"
#include "tidelog_build_config.h"

namespace tl::app {
namespace {

using arguments_view = std::span<const std::string_view>;

struct command {
    std::string_view words;      // "config check"
    std::string_view arguments;  // "FILE", for usage
    std::string_view summary;
    size_t argument_count;
    int (*run)(arguments_view arguments);
};

int run_help(arguments_view arguments);

int run_version(arguments_view /*arguments*/) {
    std::printf("tidectl %s\n", TIDELOG_VERSION);
    return to_int(exit_status::ok);
}

// The same load_config() as tidelogd, without flags. The data directory is
// not checked: it is the daemon host's state, not the file's.
int run_config_check(arguments_view arguments) {
    const std::string path(arguments[0]);
    auto config = load_config(path, {});
    if (!config) {
        std::fprintf(stderr, "tidectl: config error: %s\n", config.error().to_string().c_str());
        return to_int(exit_status::config_error);
    }
    std::printf("OK: %s\n", path.c_str());
    return to_int(exit_status::ok);
}

int run_config_defaults(arguments_view /*arguments*/) {
    std::printf("# tidelogd %s built-in defaults; smp is this machine's usable CPU count.\n%s",
                TIDELOG_VERSION, render_config_yaml(default_config()).c_str());
    return to_int(exit_status::ok);
}

constexpr command commands[] = {
    {"version", "", "print the version", 0, run_version},
    {"config check", "FILE", "validate FILE as tidelogd does: OK, or the error and exit 2", 1,
     run_config_check},
    {"config defaults", "", "print the built-in default config as YAML", 0, run_config_defaults},
    {"help", "", "print this help", 0, run_help},
};

std::string usage() {
    std::string text = "usage: tidectl COMMAND [ARGS]\n\n";
    for (const command& c : commands) {
        const std::string synopsis =
            c.arguments.empty() ? std::string(c.words) : fmt::format("{} {}", c.words, c.arguments);
        text += fmt::format("  {:<22}  {}\n", synopsis, c.summary);
    }
    text += "\nexit status: 0 success, 1 the command failed, 2 usage or configuration error\n";
    return text;
}

int run_help(arguments_view /*arguments*/) {
    std::fputs(usage().c_str(), stdout);
    return to_int(exit_status::ok);
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "tidectl: %s; see tidectl --help\n", message.c_str());
    return to_int(exit_status::config_error);
}

std::vector<std::string_view> split_words(std::string_view words) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t space = words.find(' '); space != std::string_view::npos;
         space = words.find(' ', start)) {
        parts.push_back(words.substr(start, space - start));
        start = space + 1;
    }
    parts.push_back(words.substr(start));
    return parts;
}

// Whether `words` ("config check") are the first arguments.
bool starts_with_words(arguments_view arguments, std::span<const std::string_view> words) {
    if (words.size() > arguments.size()) return false;
    return std::equal(words.begin(), words.end(), arguments.begin());
}

int dispatch(arguments_view arguments) {
    if (arguments.empty()) {
        std::fputs(usage().c_str(), stderr);
        return to_int(exit_status::config_error);
    }
    for (const std::string_view argument : arguments) {
        if (argument == "--help" || argument == "-h") return run_help({});
    }
    if (arguments[0] == "--version") return run_version({});
    for (const command& c : commands) {
        const std::vector<std::string_view> words = split_words(c.words);
        if (!starts_with_words(arguments, words)) continue;
        const arguments_view rest = arguments.subspan(words.size());
        if (rest.size() != c.argument_count) {
            return usage_error(fmt::format("usage: tidectl {}{}{}", c.words,
                                           c.arguments.empty() ? "" : " ", c.arguments));
        }
        return c.run(rest);
    }
    // A known group without (or with an unknown) subcommand: list its members.
    std::vector<std::string_view> members;
    for (const command& c : commands) {
        const std::vector<std::string_view> parts = split_words(c.words);
        if (parts.size() > 1 && parts[0] == arguments[0]) members.push_back(parts[1]);
    }
    if (!members.empty()) {
        return usage_error(
            fmt::format("'{}' needs one of: {}", arguments[0], fmt::join(members, ", ")));
    }
    return usage_error(fmt::format("unknown command '{}'", arguments[0]));
}

}  // namespace
}  // namespace tl::app

int main(int argc, char** argv) {
    const std::vector<std::string_view> arguments(argv + 1, argv + argc);
    return tl::app::dispatch(arguments);
}
