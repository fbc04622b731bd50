// Proves that our Kafka schema files (src/kafka/schemas) agree with Kafka's
// own message specs: runs src/kafka/codegen/compare_reference.py against the
// reference folder ../shared/kafka-protocol/messages (Kafka 3.8.0, read in
// place, never copied into the tree), which checks every message's API key,
// version range (covering what Kafka's broker serves), flexible versions and
// every field in wire order: name, type, versions, nullable versions, tagged
// versions and tag, default, ignorable. Skipped when the folder is absent.
// The paths come from meson (src/kafka/meson.build, kafka_codec_test_env).
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace tl::kafka {
namespace {

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

std::string quoted(const std::string& s) {
    return "'" + s + "'";
}

TEST(kafka_schema, matches_kafka_reference_specs) {
    const std::string reference = environment("TIDELOG_KAFKA_REFERENCE_DIR");
    if (reference.empty() || !std::filesystem::is_directory(reference)) {
        GTEST_SKIP() << "no Kafka reference specs at '" << reference << "'";
    }
    const std::string python = environment("TIDELOG_PYTHON");
    const std::string script = environment("TIDELOG_KAFKA_COMPARE");
    const std::string schemas = environment("TIDELOG_KAFKA_SCHEMA_DIR");
    ASSERT_FALSE(python.empty() || script.empty() || schemas.empty())
        << "run through meson test, which sets TIDELOG_PYTHON, TIDELOG_KAFKA_COMPARE and "
           "TIDELOG_KAFKA_SCHEMA_DIR";
    const std::string command = quoted(python) + " " + quoted(script) + " --reference " +
                                quoted(reference) + " --schemas " + quoted(schemas) + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    std::string output;
    std::array<char, 4096> chunk;
    while (size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe))
        output.append(chunk.data(), n);
    const int status = ::pclose(pipe);
    ASSERT_TRUE(WIFEXITED(status)) << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_NE(output.find("compared 54 messages"), std::string::npos) << output;
}

}  // namespace
}  // namespace tl::kafka
