// The dashboard's files, compiled into the node (generated from http/ui by http/ui/embed.py at
// build time; docs/http.md §12).
#ifndef JOBNET_HTTP_UI_ASSETS_HPP_
#define JOBNET_HTTP_UI_ASSETS_HPP_

#include <cstddef>
#include <string>

namespace jobnet::http {

struct UiAsset {
  const char* path;          // "/ui/app.js"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};

// The file served at `path`, or nullptr.
const UiAsset* FindUiAsset(const std::string& path);
// False when the build had no npm: /ui/ then serves a page saying so.
bool UiBuilt();

}  // namespace jobnet::http

#endif  // JOBNET_HTTP_UI_ASSETS_HPP_
