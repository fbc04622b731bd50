// tidectl's commands that speak the Kafka protocol to a broker (topic,
// cluster, produce, consume, group), through one blocking kafka_client each. The
// command table, flag parsing and usage text stay in tidectl.cc; this file
// holds what each command does once its arguments are known.
//
// Each run_* function prints its result on stdout and returns an exit status
// (exit_status.h): 0 success, 1 the broker or the connection failed (one
// stderr line each), 2 a bad argument (one stderr line).
#pragma once

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace tl::app {

// A command's arguments after the words that name it, split into positional
// arguments and flags; tidectl.cc has already checked the flags' names and
// that value flags have a value. Both views point into argv.
struct command_arguments {
    std::vector<std::string_view> positional;
    // (name without "--", value); the value is empty for switches such as --json.
    std::vector<std::pair<std::string_view, std::string_view>> flags;

    // The last value given for `name`: a later flag overrides an earlier one.
    [[nodiscard]] std::optional<std::string_view> last(std::string_view name) const;
    // Every value given for `name`, in order (repeatable flags: --config k=v).
    [[nodiscard]] std::vector<std::string_view> all(std::string_view name) const;
    [[nodiscard]] bool has(std::string_view name) const { return last(name).has_value(); }
};

// Prints "tidectl: MESSAGE; see tidectl --help" and returns exit status 2.
int report_usage_error(std::string_view message);

int run_topic_create(const command_arguments& arguments);
int run_topic_delete(const command_arguments& arguments);
int run_topic_list(const command_arguments& arguments);
int run_topic_describe(const command_arguments& arguments);
int run_topic_alter_config(const command_arguments& arguments);
int run_cluster_info(const command_arguments& arguments);
int run_produce(const command_arguments& arguments);
int run_consume(const command_arguments& arguments);
int run_group_list(const command_arguments& arguments);
int run_group_describe(const command_arguments& arguments);
int run_group_delete(const command_arguments& arguments);

}  // namespace tl::app
