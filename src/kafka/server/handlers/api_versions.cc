// ApiVersions: the APIs and versions this broker serves (exactly the
// dispatcher's table). Versions we do not serve never reach this handler:
// the connection answers them with a v0 UNSUPPORTED_VERSION body (KIP-511).
#include "kafka/messages/api_versions.h"
#include "kafka/server/dispatcher.h"
#include "kafka/server/handlers/handlers.h"

namespace tl::kafka {

task<response> handle_api_versions(broker_context&, request_context& request) {
    // The v3 request carries the client's name and version; any value is
    // accepted (Kafka's INVALID_REQUEST for odd names only makes librdkafka
    // retry with v0).
    if (!decode_request_body<api_versions_request>(request.frame)) {
        co_return response::close_connection();
    }
    api_versions_response body;
    body.api_keys = advertised_api_versions(implemented_apis());
    co_return make_response(request, body);
}

}  // namespace tl::kafka
