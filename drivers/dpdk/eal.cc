#include "dpdk/eal.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <sched.h>

#include <algorithm>
#include <atomic>

#include <absl/strings/str_format.h>

#include "base/assert.h"

namespace tl::dpdk {
namespace {
std::atomic<bool> eal_started{false};
std::atomic<bool> eal_up{false};
// Whether register_thread() took an lcore id for this thread (the EAL's own
// main thread is registered by rte_eal_init and must never be unregistered).
thread_local bool thread_registered_here = false;
}  // namespace

std::string lcores_argument(std::span<const unsigned> cpus) {
    TL_ASSERT(!cpus.empty(), "lcore 0 needs at least one CPU");
    std::vector<unsigned> sorted(cpus.begin(), cpus.end());
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::string list;
    for (size_t first = 0; first < sorted.size();) {
        size_t last = first;
        while (last + 1 < sorted.size() && sorted[last + 1] == sorted[last] + 1) ++last;
        if (!list.empty()) list += ',';
        list += last == first ? absl::StrFormat("%u", sorted[first])
                              : absl::StrFormat("%u-%u", sorted[first], sorted[last]);
        first = last + 1;
    }
    return "--lcores=0@(" + list + ")";
}

std::vector<unsigned> affinity_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<unsigned> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
    for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
        if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
    return cpus;
}

std::vector<std::string> eal_arguments(const eal_options& options) {
    std::vector<std::string> args = {"tidelogd", "--no-telemetry",
                                     "--log-level=" + options.log_level,
                                     absl::StrFormat("-m%d", options.memory_mb)};
    // One lcore, floating over every CPU we may use: `-l N` would pin the
    // calling thread (and so every shard thread it creates later) to CPU N.
    std::vector<unsigned> cpus = options.main_thread_cpus;
    if (cpus.empty()) cpus = affinity_cpus();
    if (cpus.empty()) cpus = {0};
    args.push_back(lcores_argument(cpus));
    if (options.pages == eal_options::hugepages::none) {
        // No hugepages: --in-memory is refused together with --no-huge, so
        // turn shared configuration off instead (no files under /var/run/dpdk).
        args.insert(args.end(), {"--no-huge", "--no-shconf"});
    }
    if (!options.file_prefix.empty()) args.push_back("--file-prefix=" + options.file_prefix);
    if (options.pci_devices.empty()) args.push_back("--no-pci");
    for (const auto& pci : options.pci_devices) args.push_back("--allow=" + pci);
    for (const auto& vdev : options.vdevs) args.push_back("--vdev=" + vdev);
    return args;
}

result<void, std::string> start_eal(const eal_options& options) {
    if (eal_started.exchange(true)) {
        return failure{std::string("the DPDK EAL is already started in this process")};
    }
    auto args = eal_arguments(options);
    std::vector<char*> argv;
    argv.reserve(args.size());
    for (auto& arg : args) argv.push_back(arg.data());
    const int rc = rte_eal_init(static_cast<int>(argv.size()), argv.data());
    if (rc < 0) {
        return failure{absl::StrFormat("rte_eal_init failed: %s", rte_strerror(rte_errno))};
    }
    eal_up.store(true, std::memory_order_release);
    return {};
}

bool eal_running() noexcept { return eal_up.load(std::memory_order_acquire); }

unsigned available_port_count() { return rte_eth_dev_count_avail(); }

result<void, std::string> register_thread() {
    if (!eal_running()) {
        return failure{std::string("register_thread: the DPDK EAL is not started")};
    }
    if (rte_lcore_id() != LCORE_ID_ANY) return {};  // EAL thread, or registered before
    if (rte_thread_register() != 0) {
        return failure{
            absl::StrFormat("rte_thread_register failed (%s); at most %d threads hold lcore ids",
                            rte_strerror(rte_errno), RTE_MAX_LCORE)};
    }
    TL_ASSERT(rte_lcore_id() != LCORE_ID_ANY);
    thread_registered_here = true;
    return {};
}

void unregister_thread() noexcept {
    if (!thread_registered_here) return;
    rte_thread_unregister();
    thread_registered_here = false;
}

uint64_t tsc_hz() noexcept { return eal_running() ? rte_get_tsc_hz() : 0; }

bool is_vdev(std::string_view device) noexcept {
    return device.starts_with("net_") || device.starts_with("eth_");
}

std::string_view device_name(std::string_view device) noexcept {
    return device.substr(0, device.find(','));
}

std::string_view device_arguments(std::string_view device) noexcept {
    const size_t comma = device.find(',');
    return comma == std::string_view::npos ? std::string_view{} : device.substr(comma + 1);
}

}  // namespace tl::dpdk
