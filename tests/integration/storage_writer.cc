// A real process that appends to a partition log with `group` durability and
// reports every acknowledgement on stdout, for the SIGKILL test
// (storage_kill_test.cc). Also reads a log back for verification.
//
//   storage_writer write DIR SEED   appends until killed; prints "ACK base last crc"
//   storage_writer verify DIR       prints "BATCH base last crc" for every batch,
//                                   then "END log_end_offset"
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "reactor/shard_executor.h"
#include "reactor/smp.h"
#include "storage/partition_log.h"

namespace {

using namespace tl;

void emit(const char* text) {
    // One write per line: a line is either wholly out or not at all when the
    // process is killed, so the test never parses half a line.
    const size_t length = std::strlen(text);
    if (::write(STDOUT_FILENO, text, length) != static_cast<ssize_t>(length)) std::abort();
}

storage::log_config writer_config() {
    storage::log_config config;
    config.segment_bytes = 4 * 1024 * 1024;  // several rolls per run
    config.min_free_bytes = 0;
    return config;
}

task<void> appender(storage::partition_log& log, uint64_t seed) {
    std::mt19937_64 random(seed);
    for (int serial = 0;; ++serial) {
        storage::record_batch_builder builder;
        const int records = 1 + static_cast<int>(random() % 8);
        for (int r = 0; r < records; ++r) {
            std::string value(random() % 2000, static_cast<char>('a' + (serial + r) % 26));
            builder.add_record(1'700'000'000'000 + serial, "key" + std::to_string(serial), value);
        }
        const auto batch = builder.build();
        const uint32_t crc = storage::read_batch_header(batch)->crc;
        auto appended = co_await log.append(batch);
        if (!appended) {
            std::fprintf(stderr, "append failed: %s\n", appended.error().message().c_str());
            std::abort();
        }
        char line[128];
        std::snprintf(line, sizeof(line), "ACK %lld %lld %u\n",
                      static_cast<long long>(appended->base_offset),
                      static_cast<long long>(appended->last_offset), crc);
        emit(line);
    }
}

task<int> write_forever(std::string directory, uint64_t seed) {
    reactor::shard_executor executor;
    // Registered write buffers, as tidelogd will use them.
    auto pool = uring::registered_buffer_pool::create(reactor::shard::local().io(), 1 << 20, 8);
    if (!pool) {
        std::fprintf(stderr, "buffer pool: %s\n", pool.error().message().c_str());
        co_return 1;
    }
    storage::uring_disk disk(reactor::shard::local().io(), pool->get());
    auto opened = co_await storage::partition_log::open(disk, executor, directory, writer_config());
    if (!opened) {
        std::fprintf(stderr, "open failed: %s\n", opened.error().message().c_str());
        co_return 1;
    }
    auto log = std::move(*opened);
    emit("READY\n");
    for (uint64_t a = 0; a < 4; ++a) executor.spawn(appender(*log, seed * 4 + a));
    // Never returns: the test kills the process.
    for (;;) co_await executor.sleep(std::chrono::hours(1));
}

task<int> verify(std::string directory) {
    reactor::shard_executor executor;
    storage::uring_disk disk(reactor::shard::local().io());
    auto opened = co_await storage::partition_log::open(disk, executor, directory, writer_config());
    if (!opened) {
        std::fprintf(stderr, "open failed: %s\n", opened.error().message().c_str());
        co_return 1;
    }
    auto log = std::move(*opened);
    int64_t offset = log->log_start_offset();
    int status = 0;
    while (offset < log->high_watermark()) {
        auto read = co_await log->read({.start_offset = offset, .max_bytes = 1 << 20});
        if (!read || read->batches.empty()) {
            std::fprintf(stderr, "read at %lld failed\n", static_cast<long long>(offset));
            status = 1;
            break;
        }
        std::span<const std::byte> rest(read->batches);
        while (!rest.empty()) {
            auto size = storage::peek_batch_size(rest, 1 << 24);
            auto header = storage::validate_batch(rest.first(*size), {});
            if (!header) {
                std::fprintf(stderr, "invalid batch served at %lld\n", static_cast<long long>(offset));
                co_return 1;
            }
            char line[128];
            std::snprintf(line, sizeof(line), "BATCH %lld %lld %u\n",
                          static_cast<long long>(header->base_offset),
                          static_cast<long long>(header->last_offset()), header->crc);
            emit(line);
            offset = header->last_offset() + 1;
            rest = rest.subspan(*size);
        }
    }
    char line[64];
    std::snprintf(line, sizeof(line), "END %lld\n", static_cast<long long>(log->log_end_offset()));
    emit(line);
    co_await log->close();
    co_return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s write DIR SEED | verify DIR\n", argv[0]);
        return 2;
    }
    const std::string mode = argv[1];
    const std::string directory = argv[2];
    reactor::reactor_options options;
    options.shard_count = 1;
    options.pinning = reactor::cpu_pinning::floating;
    auto started = reactor::smp::start(options);
    if (!started) {
        std::fprintf(stderr, "%s\n", started.error().c_str());
        return 1;
    }
    auto group = std::move(*started);
    if (mode == "write" && argc == 4) {
        const uint64_t seed = std::strtoull(argv[3], nullptr, 10);
        return group->run_on(0, [&] { return write_forever(directory, seed); });
    }
    if (mode == "verify") return group->run_on(0, [&] { return verify(directory); });
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}
