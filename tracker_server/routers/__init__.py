"""One router per resource; each takes its identity and team scope as dependencies."""
