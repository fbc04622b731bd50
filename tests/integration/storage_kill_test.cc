// Proves that a crash never loses an acknowledged record, with real
// processes, real files and io_uring: storage_writer appends with `group`
// durability (O_DIRECT writes + fdatasync) and prints each acknowledgement;
// the test kills it with SIGKILL at a random moment (after a random number
// of acknowledgements), runs it in verify mode, and checks that every
// acknowledged batch is there with the same offsets and CRC, and that
// offsets are contiguous. Several kill/restart cycles run on one log.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <map>
#include <random>
#include <sstream>

#include "support/child_process.h"

namespace tl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing_support::child_process;

struct batch_id {
    int64_t last_offset;
    uint32_t crc;
    friend bool operator==(const batch_id&, const batch_id&) = default;
};

std::map<int64_t, batch_id> parse(const std::string& text, const std::string& tag) {
    std::map<int64_t, batch_id> out;
    std::istringstream lines(text);
    std::string word;
    while (lines >> word) {
        if (word != tag) continue;
        long long base = 0;
        long long last = 0;
        unsigned long crc = 0;
        lines >> base >> last >> crc;
        out[base] = batch_id{last, static_cast<uint32_t>(crc)};
    }
    return out;
}

size_t count_lines(const std::string& text, const std::string& tag) {
    size_t n = 0;
    for (size_t at = text.find(tag); at != std::string::npos; at = text.find(tag, at + 1)) ++n;
    return n;
}

TEST(storage_kill, acknowledged_batches_survive_sigkill) {
    const char* writer = std::getenv("STORAGE_WRITER");
    ASSERT_NE(writer, nullptr) << "STORAGE_WRITER must name the storage_writer binary";
    char pattern[] = "/var/tmp/tidelog-kill-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    const std::string directory = std::string(pattern) + "/t-0";
    std::mt19937 random(::testing::UnitTest::GetInstance()->random_seed());

    std::map<int64_t, batch_id> acknowledged;
    for (int cycle = 0; cycle < 10; ++cycle) {
        const size_t kill_after = 20 + random() % 5000;
        {
            child_process child(writer, {"write", directory, std::to_string(cycle)});
            ASSERT_TRUE(child.wait_until(
                [&](const std::string& out) { return count_lines(out, "ACK ") >= kill_after; },
                60s))
                << "cycle " << cycle << ": " << child.stderr_text();
            child.send_signal(SIGKILL);
            auto status = child.wait_for_exit(30s);
            ASSERT_TRUE(status.has_value());
            EXPECT_FALSE(status->exited);
            for (const auto& [base, id] : parse(child.stdout_text(), "ACK")) acknowledged[base] = id;
        }
        child_process checker(writer, {"verify", directory});
        auto status = checker.wait_for_exit(120s);
        ASSERT_TRUE(status.has_value() && status->exited && status->code == 0)
            << checker.stderr_text();
        const auto present = parse(checker.stdout_text(), "BATCH");
        // Contiguous offsets from 0.
        int64_t expected = 0;
        for (const auto& [base, id] : present) {
            ASSERT_EQ(base, expected) << "cycle " << cycle;
            expected = id.last_offset + 1;
        }
        // Every acknowledged batch, exactly.
        for (const auto& [base, id] : acknowledged) {
            auto found = present.find(base);
            ASSERT_NE(found, present.end()) << "cycle " << cycle << ": lost batch at " << base;
            ASSERT_EQ(found->second, id) << "cycle " << cycle << ": batch at " << base << " differs";
        }
        // Unacknowledged survivors become part of the history.
        acknowledged = present;
    }
    fs::remove_all(pattern);
}

}  // namespace
}  // namespace tl
