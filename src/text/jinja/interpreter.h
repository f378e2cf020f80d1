// Renders a parsed template: evaluates expressions with Python/Jinja semantics inside a sandbox (no file or
// attribute access beyond template data) and within RenderLimits.
#pragma once

#include "text/jinja/builtins.h"
#include "text/jinja/parser.h"
#include "text/jinja/value.h"

namespace dsinfer::text::jinja {

// Output of the template with `variables` defined at top level; user-supplied text stays tagged.
// Throws dsinfer::Error "<template name> line L, column C: ..." for runtime errors and exceeded limits.
TaggedString render_template(const ParsedTemplate& parsed, const Dict& variables, const RenderLimits& limits);

}  // namespace dsinfer::text::jinja
