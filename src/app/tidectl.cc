// tidectl: the operator's tool. Subcommands are rows of one table: the words
// that name them, the arguments and flags they take, and the function that
// runs them. The Kafka commands (topic, cluster, produce, consume, group) live in
// kafka_commands.cc and talk to a broker through kafka_client.h.
//
// Exit status: 0 success, 1 the command failed, 2 usage or configuration error.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "app/config.h"
#include "app/exit_status.h"
#include "app/kafka_client.h"
#include "app/kafka_commands.h"
#include "tidelog_build_config.h"

namespace tl::app {
namespace {

enum class flag_kind : uint8_t {
    value,     // --name VALUE or --name=VALUE; the last one counts
    repeated,  // --name VALUE, any number of times, all kept in order
    toggle,    // --name, no value
};

struct flag {
    std::string_view name;  // without "--"
    flag_kind kind;
};

constexpr size_t any_count = std::numeric_limits<size_t>::max();

struct command {
    std::string_view words;      // "config check"
    std::string_view arguments;  // "FILE [--flag X]", for usage
    std::string_view summary;
    size_t arguments_min;
    size_t arguments_max;  // any_count: no limit
    std::span<const flag> flags;
    int (*run)(const command_arguments& arguments);
};

int run_help(const command_arguments& arguments);

int run_version(const command_arguments& /*arguments*/) {
    std::printf("tidectl %s\n", TIDELOG_VERSION);
    return to_int(exit_status::ok);
}

// The same load_config() as tidelogd, without flags. The data directory is
// not checked: it is the daemon host's state, not the file's.
int run_config_check(const command_arguments& arguments) {
    const std::string path(arguments.positional[0]);
    auto config = load_config(path, {});
    if (!config) {
        std::fprintf(stderr, "tidectl: config error: %s\n", config.error().to_string().c_str());
        return to_int(exit_status::config_error);
    }
    std::printf("OK: %s\n", path.c_str());
    return to_int(exit_status::ok);
}

int run_config_defaults(const command_arguments& /*arguments*/) {
    std::printf("# tidelogd %s built-in defaults; smp is this machine's usable CPU count.\n%s",
                TIDELOG_VERSION, render_config_yaml(default_config()).c_str());
    return to_int(exit_status::ok);
}

// ---- cluster controller: the admin endpoint's /v1/controller ----

constexpr std::string_view default_admin = "127.0.0.1:9644";

// GET http://ADDRESS/PATH (HTTP/1.0, loopback or any host); the body on a 200.
result<std::string, std::string> http_get(std::string_view address, std::string_view path) {
    const size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
        return failure{fmt::format("--admin '{}': expected HOST:PORT", address)};
    }
    std::string host(address.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const std::string port(address.substr(colon + 1));
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
        return failure{fmt::format("{}: {}", address, ::gai_strerror(rc))};
    }
    int fd = -1;
    for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
        fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    ::freeaddrinfo(found);
    if (fd < 0) return failure{fmt::format("{}: cannot connect", address)};
    const std::string request =
        fmt::format("GET {} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n", path, address);
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
        ::close(fd);
        return failure{fmt::format("{}: send failed", address)};
    }
    std::string answer;
    char buffer[4096];
    for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) answer.append(buffer, n);
    ::close(fd);
    const size_t body = answer.find("\r\n\r\n");
    if (answer.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) {
        return failure{fmt::format("{}: not an HTTP answer", address)};
    }
    const std::string status = answer.substr(9, 3);
    if (status != "200") return failure{fmt::format("{}{}: HTTP {}", address, path, status)};
    return answer.substr(body + 4);
}

// The text of a flat JSON field ("leader":2 -> "2"; arrays keep brackets).
std::string json_field(const std::string& json, std::string_view name) {
    const std::string key = fmt::format("\"{}\":", name);
    size_t at = json.find(key);
    if (at == std::string::npos) return "?";
    at += key.size();
    size_t end = at;
    if (json[at] == '[') {
        end = json.find(']', at) + 1;
    } else if (json[at] == '"') {
        end = json.find('"', at + 1) + 1;
        return json.substr(at + 1, end - at - 2);
    } else {
        while (end < json.size() && json[end] != ',' && json[end] != '}') ++end;
    }
    return json.substr(at, end - at);
}

int run_cluster_controller(const command_arguments& arguments) {
    const std::string_view admin = arguments.last("admin").value_or(default_admin);
    auto body = http_get(admin, "/v1/controller");
    if (!body) {
        std::fprintf(stderr, "tidectl: %s\n", body.error().c_str());
        return to_int(exit_status::failure);
    }
    if (arguments.has("json")) {
        std::fputs(body->c_str(), stdout);
        return to_int(exit_status::ok);
    }
    const std::string leader = json_field(*body, "leader");
    std::printf("node:         %s (%s)\n", json_field(*body, "node_id").c_str(),
                json_field(*body, "role").c_str());
    std::printf("leader:       %s\n", leader == "-1" ? "none" : leader.c_str());
    std::printf("term:         %s\n", json_field(*body, "term").c_str());
    std::printf("commit index: %s\n", json_field(*body, "commit_index").c_str());
    std::printf("voters:       %s\n", json_field(*body, "voters").c_str());
    return to_int(exit_status::ok);
}

// Every Kafka command takes --bootstrap; listing commands also --json.
constexpr flag bootstrap_flags[] = {{"bootstrap", flag_kind::value}};
constexpr flag json_flags[] = {{"bootstrap", flag_kind::value}, {"json", flag_kind::toggle}};
constexpr flag topic_create_flags[] = {{"bootstrap", flag_kind::value},
                                       {"partitions", flag_kind::value},
                                       {"replication-factor", flag_kind::value},
                                       {"config", flag_kind::repeated}};
constexpr flag alter_config_flags[] = {
    {"bootstrap", flag_kind::value}, {"set", flag_kind::repeated}, {"delete", flag_kind::repeated}};
constexpr flag cluster_info_flags[] = {
    {"bootstrap", flag_kind::value}, {"json", flag_kind::toggle}, {"verbose", flag_kind::toggle}};
constexpr flag cluster_controller_flags[] = {{"admin", flag_kind::value},
                                            {"json", flag_kind::toggle}};
constexpr flag produce_flags[] = {
    {"bootstrap", flag_kind::value},    {"partition", flag_kind::value},
    {"key", flag_kind::value},          {"header", flag_kind::repeated},
    {"acks", flag_kind::value},         {"value", flag_kind::value},
    {"key-separator", flag_kind::value}};
constexpr flag consume_flags[] = {{"bootstrap", flag_kind::value},  {"partition", flag_kind::value},
                                  {"offset", flag_kind::value},     {"count", flag_kind::value},
                                  {"timeout-ms", flag_kind::value}, {"format", flag_kind::value}};

constexpr command commands[] = {
    {"version", "", "print the version", 0, 0, {}, run_version},
    {"config check",
     "FILE",
     "validate FILE as tidelogd does: OK, or the error and exit 2",
     1,
     1,
     {},
     run_config_check},
    {"config defaults",
     "",
     "print the built-in default config as YAML",
     0,
     0,
     {},
     run_config_defaults},
    {"topic create", "NAME [--partitions N] [--replication-factor R] [--config K=V]...",
     "create a topic (CreateTopics); without flags, the broker's defaults", 1, 1,
     topic_create_flags, run_topic_create},
    {"topic delete", "NAME...", "delete topics (DeleteTopics)", 1, any_count, bootstrap_flags,
     run_topic_delete},
    {"topic list", "[--json]", "list topics and their partition counts (Metadata)", 0, 0,
     json_flags, run_topic_list},
    {"topic describe", "NAME [--json]",
     "partitions, leaders, replicas, earliest/latest offsets and configs with their sources", 1, 1,
     json_flags, run_topic_describe},
    {"topic alter-config", "NAME [--set K=V]... [--delete K]...",
     "set or delete topic configs (IncrementalAlterConfigs)", 1, 1, alter_config_flags,
     run_topic_alter_config},
    {"cluster info", "[--json] [--verbose]",
     "cluster id, controller and brokers; --verbose: the API versions served", 0, 0,
     cluster_info_flags, run_cluster_info},
    {"cluster controller", "[--admin HOST:PORT] [--json]",
     "the controller quorum as one node sees it (its admin endpoint's /v1/controller, "
     "default 127.0.0.1:9644): leader, term, commit index, voters",
     0, 0, cluster_controller_flags, run_cluster_controller},
    {"produce",
     "TOPIC [--partition P] [--key K] [--header K=V]... [--acks 0|1|all] "
     "[--value V | --key-separator S]",
     "send --value, or each stdin line, as a record; prints partition@offset per batch", 1, 1,
     produce_flags, run_produce},
    {"consume",
     "TOPIC [--partition P] [--offset earliest|latest|N] [--count N] [--timeout-ms T] "
     "[--format F]",
     "print one partition's records; stop after N, or T ms (default 5000) without one; F: %k "
     "key, %v value (default), %o offset, %p partition, %t topic, %T timestamp, %h headers",
     1, 1, consume_flags, run_consume},
    {"group list", "[--json]", "list consumer groups with their protocol type and state", 0, 0,
     json_flags, run_group_list},
    {"group describe", "GROUP [--json]",
     "state, protocol, members with their partitions, and per partition the committed "
     "offset, log end offset and lag",
     1, 1, json_flags, run_group_describe},
    {"group delete", "GROUP...", "delete empty groups and their offsets (DeleteGroups)", 1,
     any_count, bootstrap_flags, run_group_delete},
    {"help", "", "print this help", 0, 0, {}, run_help},
};

std::string synopsis(const command& c) {
    return c.arguments.empty() ? std::string(c.words) : fmt::format("{} {}", c.words, c.arguments);
}

std::string usage() {
    constexpr size_t column = 22;
    std::string text = "usage: tidectl COMMAND [ARGS]\n\n";
    for (const command& c : commands) {
        const std::string line = synopsis(c);
        if (line.size() <= column) {
            text += fmt::format("  {:<{}}  {}\n", line, column, c.summary);
        } else {
            text += fmt::format("  {}\n  {:<{}}  {}\n", line, "", column, c.summary);
        }
    }
    text += fmt::format("\nKafka commands connect to --bootstrap HOST:PORT, else ${}, else {}.\n",
                        bootstrap_environment_variable, default_bootstrap);
    text += "\nexit status: 0 success, 1 the command failed, 2 usage or configuration error\n";
    return text;
}

int run_help(const command_arguments& /*arguments*/) {
    std::fputs(usage().c_str(), stdout);
    return to_int(exit_status::ok);
}

int usage_error(const std::string& message) {
    return report_usage_error(message);
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
bool starts_with_words(std::span<const std::string_view> arguments,
                       std::span<const std::string_view> words) {
    if (words.size() > arguments.size()) return false;
    return std::equal(words.begin(), words.end(), arguments.begin());
}

// Splits what follows the command's words into positional arguments and the
// command's flags; "--" ends the flags. Errors are usage messages.
result<command_arguments, std::string> parse_arguments(const command& c,
                                                       std::span<const std::string_view> rest) {
    command_arguments parsed;
    bool flags_ended = false;
    for (size_t i = 0; i < rest.size(); ++i) {
        const std::string_view argument = rest[i];
        if (flags_ended || !argument.starts_with("--") || argument.size() == 2) {
            if (argument == "--" && !flags_ended) {
                flags_ended = true;
            } else {
                parsed.positional.push_back(argument);
            }
            continue;
        }
        const size_t equals = argument.find('=');
        const std::string_view name = argument.substr(
            2, equals == std::string_view::npos ? std::string_view::npos : equals - 2);
        const auto known = std::ranges::find(c.flags, name, &flag::name);
        if (known == c.flags.end()) {
            return failure{fmt::format("unknown flag '--{}' for '{}'", name, c.words)};
        }
        if (known->kind == flag_kind::toggle) {
            if (equals != std::string_view::npos) {
                return failure{fmt::format("--{} takes no value", name)};
            }
            parsed.flags.emplace_back(name, std::string_view{});
        } else if (equals != std::string_view::npos) {
            parsed.flags.emplace_back(name, argument.substr(equals + 1));
        } else if (i + 1 < rest.size()) {
            parsed.flags.emplace_back(name, rest[++i]);
        } else {
            return failure{fmt::format("--{} needs a value", name)};
        }
    }
    const size_t count = parsed.positional.size();
    if (count < c.arguments_min || count > c.arguments_max) {
        return failure{fmt::format("usage: tidectl {}", synopsis(c))};
    }
    return parsed;
}

int dispatch(std::span<const std::string_view> arguments) {
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
        auto parsed = parse_arguments(c, arguments.subspan(words.size()));
        if (!parsed) return usage_error(parsed.error());
        return c.run(*parsed);
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
