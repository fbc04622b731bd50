// Crash simulation of the partition log (DESIGN.md §4, STYLE.md point 7).
//
// Each seed drives one deterministic history: several concurrent appenders
// write random batches with `group` durability to a log on the simulated
// disk, the run is cut at a random step (a power cut: every task abandoned,
// unsynced writes lost or torn at any byte), the log is recovered, and the
// invariants are checked:
//   - every acknowledged batch at or above the log start (retention by size
//     deletes old segments concurrently in half the seeds) is there, byte for
//     byte, at its offset;
//   - offsets are contiguous from the log start, every batch valid;
//   - nothing that was never sent appears.
// A tenth of the seeds also flip bits in durable data; then the check is that
// no corrupt batch is ever served (reads fail or return valid, sent batches).
// A reader runs concurrently and checks every batch it is served. Several
// crash/recover rounds run per seed.
// In half the seeds the appenders are idempotent producers (a producer id
// each, kept across rounds): after a crash each first resends the batch it
// had in flight, exactly as a client retries. The log must then hold every
// producer's sequence numbers once each and in order, and a resent batch
// that had survived the crash must be answered with its original offset. A failure prints its seed;
// `storage_crash_sim --seed N` replays it exactly.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "sim/sim_disk.h"
#include "storage/partition_log.h"

namespace tl::sim {
namespace {

using storage::partition_log;

// Totals over all seeds, printed at the end: evidence the faults happen.
struct sim_totals {
    uint64_t batches_acknowledged = 0;
    uint64_t torn_tails_cut = 0;
    uint64_t unacknowledged_lost = 0;
    uint64_t unacknowledged_survived = 0;
    uint64_t crashes = 0;
    uint64_t retries_deduplicated = 0;  // a resent batch answered with its offset
    uint64_t retries_appended = 0;      // a resent batch that had been lost
} totals;

struct failure_report {
    std::string what;
};

#define SIM_CHECK(condition, ...)                                       \
    do {                                                                \
        if (!(condition)) {                                             \
            char message[512];                                          \
            std::snprintf(message, sizeof(message), __VA_ARGS__);       \
            return failure_report{message};                             \
        }                                                               \
    } while (false)

struct model {
    // offset -> batch bytes (with the assigned base offset) for every batch
    // whose append returned success, and for those recovered after a crash.
    std::map<int64_t, std::vector<std::byte>> acknowledged;
    // Batches whose append is in flight: they may or may not survive.
    std::map<int64_t, std::vector<std::byte>> in_flight;
    // A read was refused after injected corruption: the history can no
    // longer be reconstructed, so the seed ends there (having checked that
    // nothing corrupt was served).
    bool refused = false;
    // A deduplicated resend was answered with an offset that does not hold it.
    std::optional<std::string> bad_duplicate;
};

// An idempotent producer, across rounds.
struct producer_model {
    int64_t id = 0;
    int32_t next_sequence = 0;
    std::vector<std::byte> unacknowledged;  // the batch in flight at the crash, as sent
};

// `producer`: the batch is the next of that idempotent producer.
std::vector<std::byte> random_batch(std::mt19937_64& random, int serial,
                                    const producer_model* producer = nullptr) {
    storage::record_batch_builder builder;
    if (producer != nullptr) builder.set_producer(producer->id, 0, producer->next_sequence);
    const int records = 1 + static_cast<int>(random() % 5);
    for (int r = 0; r < records; ++r) {
        const size_t value_bytes = random() % 1500;
        std::string value(value_bytes, static_cast<char>('a' + (serial + r) % 26));
        builder.add_record(1000 + serial, "k" + std::to_string(serial), value);
    }
    return builder.build();
}

// Sends `count` batches of producer `p`, the one left in flight by the last
// crash first.
task<void> idempotent_appender(partition_log& log, model& m, producer_model& p,
                               std::mt19937_64& random, int count) {
    for (int i = 0; i < count; ++i) {
        const bool resend = !p.unacknowledged.empty();
        if (!resend) {
            p.unacknowledged =
                random_batch(random, static_cast<int>(p.id) * 100000 + p.next_sequence, &p);
        }
        const std::vector<std::byte> batch = p.unacknowledged;
        const int64_t base = log.log_end_offset();
        std::vector<std::byte> expected = batch;
        storage::assign_base_offset(expected, base);
        m.in_flight[base] = expected;
        auto appended = co_await log.append(batch);
        if (!appended) {
            // Offline after an injected fault, or the producer's state went
            // with a cut tail or retention: stop, as a client would reset.
            m.in_flight.erase(base);
            co_return;
        }
        if (appended->base_offset != base) {
            // Deduplicated: the batch must be in the log at that offset.
            m.in_flight.erase(base);
            std::vector<std::byte> original = batch;
            storage::assign_base_offset(original, appended->base_offset);
            auto at = m.acknowledged.find(appended->base_offset);
            if (!resend || at == m.acknowledged.end() || at->second != original) {
                m.bad_duplicate = "producer " + std::to_string(p.id) + " answered offset " +
                                  std::to_string(appended->base_offset) +
                                  " for a batch not stored there";
                co_return;
            }
            ++totals.retries_deduplicated;
        } else {
            if (resend) ++totals.retries_appended;
            ++totals.batches_acknowledged;
            m.acknowledged[base] = std::move(m.in_flight[base]);
            m.in_flight.erase(base);
        }
        auto header = storage::read_batch_header(batch);
        p.next_sequence = storage::increment_sequence(header->base_sequence,
                                                      header->last_offset_delta + 1);
        p.unacknowledged.clear();
    }
}

task<void> appender(partition_log& log, model& m, std::mt19937_64& random, int id,
                    int count) {
    for (int i = 0; i < count; ++i) {
        auto batch = random_batch(random, id * 100000 + i);
        // Record what will be written before the append can suspend: the
        // log assigns the offset synchronously, at its log end.
        const int64_t base = log.log_end_offset();
        std::vector<std::byte> expected = batch;
        storage::assign_base_offset(expected, base);
        m.in_flight[base] = expected;
        auto appended = co_await log.append(batch);
        if (!appended) co_return;  // offline after an injected fault: stop
        TL_ASSERT(appended->base_offset == base, "offset assigned at the log end");
        ++totals.batches_acknowledged;
        m.acknowledged[base] = std::move(m.in_flight[base]);
        m.in_flight.erase(base);
    }
}

template <typename T>
std::optional<T> run_to_completion(sim_executor& executor, task<T> work) {
    std::optional<T> out;
    executor.spawn([](task<T> w, std::optional<T>& o) -> task<void> {
        o.emplace(co_await std::move(w));
    }(std::move(work), out));
    while (!out && executor.run(1)) {
    }
    return out;
}

// Whether `bytes` is the batch sent at `offset` (acknowledged or in flight).
bool was_sent(const model& m, int64_t offset, const std::vector<std::byte>& bytes,
              bool corruption_injected) {
    // Kafka's CRC does not cover partitionLeaderEpoch (bytes 12-15), so a
    // flipped bit there is undetectable by design: ignore those bytes when
    // corruption was injected.
    auto same = [&](const std::vector<std::byte>& sent) {
        if (sent.size() != bytes.size()) return false;
        for (size_t i = 0; i < sent.size(); ++i) {
            const bool epoch_byte = i >= storage::batch_field::partition_leader_epoch &&
                                    i < storage::batch_field::magic;
            if (sent[i] != bytes[i] && !(corruption_injected && epoch_byte)) return false;
        }
        return true;
    };
    auto acked = m.acknowledged.find(offset);
    auto flying = m.in_flight.find(offset);
    return (acked != m.acknowledged.end() && same(acked->second)) ||
           (flying != m.in_flight.end() && same(flying->second));
}

// Reads concurrently with the appenders, from random offsets: whatever a
// read returns must be valid, contiguous batches that were sent. A refused
// read is fine only after injected corruption.
task<void> reader(partition_log& log, const model& m, std::mt19937_64& random,
                  bool corruption_injected, std::optional<failure_report>& failed, int reads) {
    for (int i = 0; i < reads && !failed; ++i) {
        const int64_t start = log.log_start_offset();
        const int64_t end = log.high_watermark();
        const int64_t offset = start + static_cast<int64_t>(random() % (end - start + 1));
        auto r = co_await log.read({.start_offset = offset, .max_bytes = 1 + random() % 20000});
        if (!r) {
            const bool retention_race = r.error().code == storage::storage_errc::offset_out_of_range;
            if (!corruption_injected && !retention_race) {
                failed = failure_report{"concurrent read failed: " + r.error().message()};
            }
            continue;
        }
        std::span<const std::byte> rest(r->batches);
        std::optional<int64_t> expected;
        while (!rest.empty() && !failed) {
            auto size = storage::peek_batch_size(rest, 1 << 24);
            auto header = size ? storage::validate_batch(rest.first(*size), {})
                               : storage::batch_result<storage::batch_header>(failure{size.error()});
            if (!header) {
                failed = failure_report{"concurrent read served an invalid batch"};
                break;
            }
            if ((expected && header->base_offset != *expected) ||
                header->last_offset() < offset) {
                failed = failure_report{"concurrent read: batches out of place"};
                break;
            }
            const std::vector<std::byte> bytes(rest.begin(), rest.begin() + static_cast<long>(*size));
            if (!was_sent(m, header->base_offset, bytes, corruption_injected)) {
                failed = failure_report{"concurrent read served a batch never sent at " +
                                        std::to_string(header->base_offset)};
                break;
            }
            expected = header->last_offset() + 1;
            rest = rest.subspan(*size);
        }
    }
}

std::optional<failure_report> verify(sim_executor& executor, partition_log& log, model& m,
                                     bool corruption_injected) {
    int64_t offset = log.log_start_offset();
    std::map<int64_t, std::vector<std::byte>> seen;
    while (offset < log.high_watermark()) {
        auto r = run_to_completion(executor, log.read({.start_offset = offset, .max_bytes = 64 * 1024}));
        SIM_CHECK(r.has_value(), "read did not complete");
        if (!r->ok()) {
            SIM_CHECK(corruption_injected, "read failed without corruption: %s",
                      r->error().message().c_str());
            m.refused = true;  // refused rather than served: fine
            return std::nullopt;
        }
        std::span<const std::byte> rest((*r)->batches);
        SIM_CHECK(!rest.empty(), "empty read at %lld below the high watermark",
                  static_cast<long long>(offset));
        while (!rest.empty()) {
            auto size = storage::peek_batch_size(rest, 1 << 24);
            SIM_CHECK(size.ok(), "unparsable batch served at %lld", static_cast<long long>(offset));
            auto header = storage::validate_batch(rest.first(*size), {});
            SIM_CHECK(header.ok(), "invalid batch served at %lld", static_cast<long long>(offset));
            SIM_CHECK(header->base_offset == offset, "gap: expected %lld, found %lld",
                      static_cast<long long>(offset), static_cast<long long>(header->base_offset));
            const std::vector<std::byte> bytes(rest.begin(), rest.begin() + static_cast<long>(*size));
            const bool matches = was_sent(m, offset, bytes, corruption_injected);
            SIM_CHECK(matches, "batch at %lld was never sent", static_cast<long long>(offset));
            seen[offset] = bytes;
            offset = header->last_offset() + 1;
            rest = rest.subspan(*size);
        }
    }
    // Each producer's sequence numbers: once each, in order (from the first
    // batch left after retention).
    std::map<int64_t, int32_t> next_sequence;
    for (const auto& [at, bytes] : seen) {
        auto header = storage::read_batch_header(bytes);
        if (!header->has_producer_id()) continue;
        auto [it, first] = next_sequence.try_emplace(header->producer_id, header->base_sequence);
        SIM_CHECK(it->second == header->base_sequence,
                  "producer %lld: sequence %d at offset %lld, expected %d (duplicate or gap)",
                  static_cast<long long>(header->producer_id), header->base_sequence,
                  static_cast<long long>(at), it->second);
        it->second = storage::increment_sequence(header->base_sequence,
                                                 header->last_offset_delta + 1);
    }
    if (!corruption_injected) {
        for (const auto& [acked_offset, bytes] : m.acknowledged) {
            if (acked_offset < log.log_start_offset()) continue;  // deleted by retention
            SIM_CHECK(seen.contains(acked_offset), "acknowledged batch at %lld lost (log end %lld)",
                      static_cast<long long>(acked_offset),
                      static_cast<long long>(log.log_end_offset()));
        }
    }
    for (const auto& [flying_offset, bytes] : m.in_flight) {
        ++(seen.contains(flying_offset) ? totals.unacknowledged_survived
                                        : totals.unacknowledged_lost);
    }
    if (log.recovery().tail_error) ++totals.torn_tails_cut;
    // What survived is now the history; what did not is gone for good.
    m.acknowledged = std::move(seen);
    m.in_flight.clear();
    return std::nullopt;
}

// Canary: acknowledge after the write but before fdatasync (flush mode
// `none`). The checkers must catch the lost acknowledged batches this causes,
// which proves they can fail.
bool canary_mode = false;

std::optional<failure_report> run_seed(uint64_t seed) {
    sim_executor executor(seed);
    sim_disk disk(executor);
    std::mt19937_64 random(seed * 7919 + 1);
    const bool corrupt = seed % 10 == 9;
    storage::log_config config;
    const uint64_t segment_sizes[] = {64 * 1024, 256 * 1024, 1024 * 1024};
    config.segment_bytes = segment_sizes[random() % 3];
    config.cache_bytes = (random() % 2) ? 4 * 1024 : 1024 * 1024;
    config.max_write_bytes = (random() % 2) ? 16 * 1024 : 4 * 1024 * 1024;
    if (canary_mode) config.flush = storage::flush_mode::none;
    // Retention by size runs in the background in half the seeds, deleting
    // segments while appends and flushes go on.
    config.retention_ms = -1;
    config.retention_bytes = (random() % 2) ? 256 * 1024 : -1;
    config.retention_check_interval = std::chrono::milliseconds(1 + random() % 50);

    run_to_completion(executor, [](sim_disk& d) -> task<bool> {
        TL_ASSERT((co_await d.make_directory("data")).ok());
        co_return true;
    }(disk));
    model m;
    bool corruption_injected = false;
    const bool idempotent = random() % 2 == 0;
    std::vector<producer_model> producers(1 + random() % 4);
    for (size_t p = 0; p < producers.size(); ++p) producers[p].id = 1000 + static_cast<int64_t>(p);
    const int rounds = 3;
    for (int round = 0; round < rounds; ++round) {
        auto opened = run_to_completion(executor,
                                        partition_log::open(disk, executor, "data/t-0", config));
        SIM_CHECK(opened.has_value() && opened->ok(), "round %d: recovery failed: %s", round,
                  opened && !opened->ok() ? opened->error().message().c_str() : "stuck");
        std::unique_ptr<partition_log> log = std::move(**opened);
        if (auto failed = verify(executor, *log, m, corruption_injected)) {
            failed->what = "round " + std::to_string(round) + ": " + failed->what;
            executor.abandon_all();  // tasks first: they refer to the log
            return failed;
        }
        if (m.refused) {
            executor.abandon_all();
            return std::nullopt;
        }
        if (idempotent) {
            for (producer_model& p : producers) {
                executor.spawn(idempotent_appender(*log, m, p, random,
                                                   5 + static_cast<int>(random() % 40)));
            }
        } else {
            const int appenders = 1 + static_cast<int>(random() % 4);
            for (int a = 0; a < appenders; ++a) {
                executor.spawn(appender(*log, m, random, round * 10 + a, 5 + random() % 40));
            }
        }
        std::optional<failure_report> reader_failed;
        executor.spawn(reader(*log, m, random, corruption_injected, reader_failed,
                              static_cast<int>(random() % 50)));
        // Cut early in some rounds, late in others: mid-flight writes matter most.
        executor.run(1 + random() % ((random() % 2) ? 400 : 4000));
        if (m.bad_duplicate) {
            executor.abandon_all();
            return failure_report{"round " + std::to_string(round) + ": " + *m.bad_duplicate};
        }
        if (reader_failed) {
            executor.abandon_all();
            reader_failed->what = "round " + std::to_string(round) + ": " + reader_failed->what;
            return reader_failed;
        }
        // Power cut.
        executor.abandon_all();
        if (corrupt && random() % 2 == 0) {
            disk.flip_bits(1 + random() % 3, ".log");
            corruption_injected = true;
        }
        disk.crash();
        ++totals.crashes;
        log.reset();
    }
    return std::nullopt;
}

}  // namespace
}  // namespace tl::sim

int main(int argc, char** argv) {
    uint64_t first = 0;
    uint64_t count = 2000;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
            count = 1;
        } else if (std::strcmp(argv[i], "--seeds") == 0 && i + 1 < argc) {
            count = std::strtoull(argv[++i], nullptr, 10);
        } else if (std::strcmp(argv[i], "--canary") == 0) {
            tl::sim::canary_mode = true;
        } else if (std::strcmp(argv[i], "--first-seed") == 0 && i + 1 < argc) {
            first = std::strtoull(argv[++i], nullptr, 10);
        } else {
            std::fprintf(stderr,
                         "usage: %s [--canary] [--seed N | --seeds COUNT [--first-seed N]]\n",
                         argv[0]);
            return 2;
        }
    }
    for (uint64_t seed = first; seed < first + count; ++seed) {
        auto failed = tl::sim::run_seed(seed);
        if (tl::sim::canary_mode) {
            if (!failed) continue;
            std::printf("canary caught at seed %llu: %s\n", static_cast<unsigned long long>(seed),
                        failed->what.c_str());
            return 0;
        }
        if (failed) {
            std::printf("FAILED seed %llu: %s\nreplay: %s --seed %llu\n",
                        static_cast<unsigned long long>(seed), failed->what.c_str(), argv[0],
                        static_cast<unsigned long long>(seed));
            return 1;
        }
    }
    if (tl::sim::canary_mode) {
        std::printf("canary NOT caught in %llu seeds: the checkers cannot fail\n",
                    static_cast<unsigned long long>(count));
        return 1;
    }
    const auto& t = tl::sim::totals;
    std::printf("%llu seeds passed (first %llu): %llu crashes, %llu batches acknowledged, "
                "%llu torn or corrupt tails cut, unacknowledged batches %llu lost / %llu kept, "
                "resent after a crash %llu deduplicated / %llu appended\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(first),
                static_cast<unsigned long long>(t.crashes),
                static_cast<unsigned long long>(t.batches_acknowledged),
                static_cast<unsigned long long>(t.torn_tails_cut),
                static_cast<unsigned long long>(t.unacknowledged_lost),
                static_cast<unsigned long long>(t.unacknowledged_survived),
                static_cast<unsigned long long>(t.retries_deduplicated),
                static_cast<unsigned long long>(t.retries_appended));
    return 0;
}
