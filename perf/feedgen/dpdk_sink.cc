#include "perf/feedgen/dpdk_sink.h"

#include <time.h>

#include <array>
#include <span>
#include <thread>

#include <fmt/format.h>

#include "base/assert.h"
#include "dpdk/eal.h"
#include "dpdk/port.h"
#include "perf/feedgen/generator.h"

namespace tl::feedgen {
namespace {

static_assert(frames_per_batch_max <= dpdk::max_burst,
              "one write() is one transmit() of at most a burst");

// The sink only sends: no RX queue (a memif client with one would ask the
// server for a server-to-client ring, and a receive-only server such as
// tidelogd's feed port has none, so it refuses the connection).
constexpr uint16_t tx_descriptors = 1024;
// policy retry: a port that takes nothing for this long means the receiver is
// gone; fail instead of spinning forever.
constexpr int64_t retry_stall_ns_max = 10'000'000'000;
constexpr int64_t link_poll_ns = 10'000'000;

int64_t now_ns() noexcept {
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1'000'000'000 + now.tv_nsec;
}

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

class dpdk_port_sink final : public dpdk_sink {
public:
    dpdk_port_sink(std::unique_ptr<dpdk::port> port, dpdk_full_policy policy)
        : _port(std::move(port)), _policy(policy), _description("dpdk:" + _port->device()) {}

    result<void, std::string> write(std::span<const timed_frame> frames) override {
        TL_ASSERT(_port != nullptr, "write after finish");
        TL_ASSERT(frames.size() <= frames_per_batch_max);
        std::array<std::span<const std::byte>, frames_per_batch_max> bytes;
        for (size_t i = 0; i < frames.size(); ++i) bytes[i] = frames[i].bytes;
        std::span<const std::span<const std::byte>> pending(bytes.data(), frames.size());
        _counts.frames_offered += frames.size();
        int64_t stalled_since_ns = 0;
        while (!pending.empty()) {
            const uint16_t queued = _port->transmit(0, pending);
            _counts.frames_sent += queued;
            pending = pending.subspan(queued);
            if (pending.empty()) break;
            if (_policy == dpdk_full_policy::drop) {
                _counts.frames_dropped += pending.size();
                break;
            }
            ++_counts.full_retries;
            if (queued > 0 || stalled_since_ns == 0) {
                stalled_since_ns = now_ns();
            } else if (now_ns() - stalled_since_ns > retry_stall_ns_max) {
                return failure{fmt::format("{}: the port took no frame for {} s", _description,
                                           retry_stall_ns_max / 1'000'000'000)};
            }
            cpu_relax();
        }
        return {};
    }

    result<void, std::string> finish() override {
        if (!_port) return {};
        _counts.port_tx_packets = _port->stats().tx_packets;
        _port.reset();  // stops and closes the port: net_pcap flushes its tx_pcap file
        return {};
    }

    std::string describe() const override { return _description; }
    dpdk_sink_counts counts() const override { return _counts; }

private:
    std::unique_ptr<dpdk::port> _port;
    dpdk_full_policy _policy;
    std::string _description;
    dpdk_sink_counts _counts;
};

}  // namespace

dpdk_sink::~dpdk_sink() = default;

result<std::unique_ptr<dpdk_sink>, std::string> open_dpdk_sink(const dpdk_sink_options& options) {
    if (!dpdk::is_vdev(options.device)) {
        return failure{fmt::format("--dpdk-vdev: '{}' is not a vdev (net_...)", options.device)};
    }
    dpdk::eal_options eal;
    eal.memory_mb = options.memory_mb;
    if (auto started = dpdk::start_eal(eal); !started) return failure{started.error()};
    if (auto registered = dpdk::register_thread(); !registered) {
        return failure{registered.error()};
    }
    dpdk::port_options port_options;
    port_options.device = options.device;
    port_options.rx_queues = 0;
    port_options.tx_queues = 1;
    port_options.tx_descriptors = tx_descriptors;
    port_options.hardware_timestamps = false;
    auto opened = dpdk::port::open(port_options);
    if (!opened) return failure{opened.error()};
    std::unique_ptr<dpdk::port> port = std::move(*opened);
    const int64_t deadline_ns = now_ns() + options.link_wait_ms * 1'000'000;
    while (!port->link_up()) {
        if (now_ns() >= deadline_ns) {
            return failure{fmt::format("{}: link still down after {} ms (is the peer running?)",
                                       options.device, options.link_wait_ms)};
        }
        std::this_thread::sleep_for(std::chrono::nanoseconds(link_poll_ns));
    }
    return std::unique_ptr<dpdk_sink>(
        std::make_unique<dpdk_port_sink>(std::move(port), options.when_full));
}

}  // namespace tl::feedgen
