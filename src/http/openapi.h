#pragma once
// The OpenAPI 3.1 document of the whole HTTP API (docs/openapi.yaml), as compact JSON embedded at
// build time (scripts/openapi_json.py --cpp). Served at GET /v1/openapi.json; a unit test holds
// it to the router's table (every route documented, nothing documented that is not routed).
namespace appointd::http {

extern const char* const kOpenApiJson;

}  // namespace appointd::http
