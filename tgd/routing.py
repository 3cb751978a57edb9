"""URL matching without a reference cycle per request, for both doors.

Werkzeug's ``StateMachineMatcher.match`` defines a recursive closure on every call:
the function refers to itself through its closure cell, so each request leaves a
small cycle (eight objects) that only the garbage collector frees. In a webhook
burst those cycles were what triggered generation-0 collections, each stopping the
whole process for 13–28 ms with alerts waiting (docs/gateway.md, "The garbage
collector's pauses").

Every route of the machines' door is a static path (``/gateway/twilio/voice``…), so
:class:`StaticRoutesFirst` first walks the static transitions of werkzeug's own state
machine, with no closure. That walk is exactly the first branch werkzeug's
depth-first search explores (static before dynamic at every level), so when it ends
on a rule that accepts the method, werkzeug would return that same rule. Anything
else (a converter, a wrong method, a missing trailing slash, merged slashes, an
alias) goes to werkzeug's matcher unchanged, with its 404, 405 and redirects.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from typing import Any

from flask import Flask
from werkzeug.routing import Map, Rule, RuleFactory
from werkzeug.routing.matcher import StateMachineMatcher


class StaticRoutesFirst(StateMachineMatcher):
    """Werkzeug's matcher, with a fully static path matched by a plain walk."""

    def match(
        self, domain: str, path: str, method: str, websocket: bool
    ) -> tuple[Rule, MutableMapping[str, Any]]:
        rule = self._static_rule(domain, path, method, websocket)
        if rule is None:
            return super().match(domain, path, method, websocket)
        return rule, dict(rule.defaults) if rule.defaults else {}

    def _static_rule(self, domain: str, path: str, method: str, websocket: bool) -> Rule | None:
        state = self._root.static.get(domain)
        for part in path.split("/"):
            if state is None:
                return None
            state = state.static.get(part)
        if state is None:
            return None
        for rule in state.rules:  # the order werkzeug tries them in
            if rule.methods is not None and method not in rule.methods:
                continue
            if rule.websocket != websocket:
                continue
            if rule.alias and rule.map.redirect_defaults:
                return None  # werkzeug's matcher raises the redirect
            return rule
        return None


class StaticRoutesFirstMap(Map):
    """A werkzeug ``Map`` matching with :class:`StaticRoutesFirst`."""

    def __init__(
        self, rules: Iterable[RuleFactory] | None = None, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(None, *args, **kwargs)
        # Werkzeug offers no hook for its matcher: the one it built is replaced while
        # still empty, then the rules are added to the new one.
        self._matcher = StaticRoutesFirst(self.merge_slashes)
        for rule_factory in rules or ():
            self.add(rule_factory)


class Door(Flask):
    """A Flask app whose routes are matched by :class:`StaticRoutesFirstMap`."""

    url_map_class = StaticRoutesFirstMap
