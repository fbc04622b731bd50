#include "reactor/smp.h"

#include <pthread.h>
#include <sched.h>

#include <latch>

#include <absl/strings/str_format.h>

namespace tl::reactor {
namespace {

system_steady_clock default_clock;

void pin_to_cpu(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    // Failure (a restricted cpuset) leaves the thread floating: not fatal.
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

}  // namespace

result<std::unique_ptr<smp>, std::string> smp::start(const reactor_options& options) {
    return start(options, default_clock);
}

result<std::unique_ptr<smp>, std::string> smp::start(const reactor_options& options,
                                                     clock_source& clock) {
    if (options.shard_count == 0 || options.shard_count > reactor_options::max_shards) {
        return failure{absl::StrFormat("shard count %d outside 1..%d", options.shard_count,
                                       reactor_options::max_shards)};
    }
    const unsigned capacity = options.mailbox_capacity;
    if (capacity < 2 || capacity > reactor_options::max_mailbox_capacity ||
        (capacity & (capacity - 1)) != 0) {
        return failure{absl::StrFormat("mailbox capacity %d is not a power of two in 2..%d",
                                       capacity, reactor_options::max_mailbox_capacity)};
    }
    std::unique_ptr<smp> self(new smp(options, clock));
    const unsigned shards = options.shard_count;
    const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());

    std::latch started(shards);
    std::vector<std::string> errors(shards);
    for (unsigned id = 0; id < shards; ++id) {
        self->_threads.emplace_back([raw = self.get(), id, cpus, &started, &errors] {
            shard& me = *raw->_shards[id];
            if (raw->_options.pinning == cpu_pinning::pinned) pin_to_cpu(id % cpus);
            pthread_setname_np(pthread_self(), absl::StrFormat("tidelog-shard%d", id).c_str());
            auto ready = me.start_on_thread();
            if (!ready) errors[id] = "io_uring: " + ready.error().message();
            started.count_down();
            if (ready) me.run();
            std::lock_guard lock(raw->_exit_mutex);
            ++raw->_exited;
            raw->_exit_signal.notify_all();
        });
    }
    started.wait();
    for (unsigned id = 0; id < shards; ++id) {
        if (!errors[id].empty()) {
            self->request_stop();
            self->join(std::chrono::seconds(10));
            return failure{absl::StrFormat("shard %d failed to start: %s", id, errors[id])};
        }
    }
    return self;
}

smp::smp(const reactor_options& options, clock_source& clock) : _options(options), _clock(clock) {
    const unsigned shards = options.shard_count;
    _requests.reserve(size_t{shards} * shards);
    _replies.reserve(size_t{shards} * shards);
    for (unsigned from = 0; from < shards; ++from) {
        for (unsigned to = 0; to < shards; ++to) {
            // The diagonal is never used (calls to self run inline); keep
            // the indexing simple with minimal rings there.
            const size_t capacity = from == to ? 2 : options.mailbox_capacity;
            _requests.push_back(std::make_unique<spsc_ring<cross_call*>>(capacity));
            _replies.push_back(std::make_unique<spsc_ring<cross_call*>>(capacity));
        }
    }
    for (unsigned id = 0; id < shards; ++id) _shards.push_back(new shard(*this, id, _options, _clock));
}

smp::~smp() {
    request_stop();
    const bool joined = join(std::chrono::hours(24 * 365));
    TL_ASSERT(joined);
    for (shard* s : _shards) delete s;
}

void smp::post(unsigned shard_id, absl::AnyInvocable<void()> work) {
    _shards[shard_id]->post_external(std::move(work));
}

void smp::request_stop() noexcept {
    for (shard* s : _shards) {
        s->_stop_requested.store(true, std::memory_order_release);
        s->wake();
    }
}

bool smp::join(duration_ns timeout) {
    if (_joined) return true;
    {
        std::unique_lock lock(_exit_mutex);
        if (!_exit_signal.wait_for(lock, timeout, [&] { return _exited == _threads.size(); })) {
            return false;
        }
    }
    for (auto& thread : _threads) thread.join();
    _joined = true;
    return true;
}

}  // namespace tl::reactor
