#include "dpdk/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <atomic>

#include <absl/strings/str_format.h>

namespace tl::dpdk {
namespace {
std::atomic<bool> eal_started{false};
}  // namespace

std::vector<std::string> eal_arguments(const eal_options& options) {
    std::vector<std::string> args = {"tidelogd", "--no-telemetry",
                                     "--log-level=" + options.log_level,
                                     absl::StrFormat("-m%d", options.memory_mb)};
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
    return {};
}

unsigned available_port_count() { return rte_eth_dev_count_avail(); }

}  // namespace tl::dpdk
