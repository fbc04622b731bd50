// smp: the set of shards, their threads and the N x N mailbox mesh.
//
// Created and driven by one control thread (main). For every ordered pair of
// shards (a, b) there is a request ring a->b and a reply ring b->a, both with
// `mailbox_capacity` slots; a sender holds one credit per request in flight,
// so a reply always finds room and nothing is ever dropped or grown.
#pragma once

#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "base/result.h"
#include "reactor/shard.h"
#include "reactor/submit_to.h"

namespace tl::reactor {

class smp {
public:
    static result<std::unique_ptr<smp>, std::string> start(const reactor_options& options);
    static result<std::unique_ptr<smp>, std::string> start(const reactor_options& options,
                                                           clock_source& clock);
    // Requests a stop and joins; see join() for the conditions.
    ~smp();
    smp(const smp&) = delete;
    smp& operator=(const smp&) = delete;

    unsigned shard_count() const noexcept { return static_cast<unsigned>(_shards.size()); }
    const reactor_options& options() const noexcept { return _options; }

    // From a thread that is not a shard: runs `fn` (a callable returning a
    // value or a task) on `shard_id` and blocks until it has finished.
    // Control plane only (start-up, shutdown, tests).
    template <typename F>
    call_result_t<F> run_on(unsigned shard_id, F fn);

    // Asks every shard to leave its loop once its tasks, calls and I/O have
    // drained. Services must have been told to stop first.
    void request_stop() noexcept;
    // Waits for every shard thread to leave its loop; false if `timeout`
    // passed first (the threads are then still running and the process
    // should exit without destroying this object).
    bool join(duration_ns timeout);

    // ---- used by shards ----
    spsc_ring<cross_call*>& requests(unsigned from, unsigned to) noexcept {
        return *_requests[from * shard_count() + to];
    }
    spsc_ring<cross_call*>& replies(unsigned from, unsigned to) noexcept {
        return *_replies[from * shard_count() + to];
    }
    shard& shard_at(unsigned id) noexcept { return *_shards[id]; }

private:
    smp(const reactor_options& options, clock_source& clock);
    void post(unsigned shard_id, absl::AnyInvocable<void()> work);

    reactor_options _options;
    clock_source& _clock;
    std::vector<std::unique_ptr<spsc_ring<cross_call*>>> _requests;
    std::vector<std::unique_ptr<spsc_ring<cross_call*>>> _replies;
    std::vector<shard*> _shards;
    std::vector<std::thread> _threads;
    std::mutex _exit_mutex;
    std::condition_variable _exit_signal;
    unsigned _exited = 0;
    bool _joined = false;
};

template <typename F>
call_result_t<F> smp::run_on(unsigned shard_id, F fn) {
    TL_ASSERT(shard::try_local() == nullptr, "run_on() blocks: call it from a non-shard thread");
    TL_ASSERT(shard_id < shard_count());
    using value_type = call_result_t<F>;
    std::promise<value_type> promise;
    auto future = promise.get_future();
    post(shard_id, [&fn, &promise] {
        shard::local().spawn([](F& work, std::promise<value_type>& done) -> task<void> {
            if constexpr (std::is_void_v<value_type>) {
                co_await invoke_as_task(work);
                done.set_value();
            } else {
                done.set_value(co_await invoke_as_task(work));
            }
        }(fn, promise));
    });
    return future.get();
}

}  // namespace tl::reactor
