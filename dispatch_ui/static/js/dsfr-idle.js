/* DSFR's renderer asks for an animation frame on every frame, for as long as the page is
 * open, even when no component has anything to render. Measured on the operator's console
 * in Chromium: 60 frames a second and about 40 ms of main-thread time per second for a page
 * doing nothing (1 ms without DSFR's script). A console stays open all shift; the hundreds
 * of wasted frames also delay the frame that shows a new alert.
 *
 * This keeps DSFR's own rendering and runs its loop only while there is work: a component
 * that renders on every frame (tabs, a shown modal, a range) or a step waiting for the next
 * frame (collapse and modal transitions). Written for DSFR 1.15 (`dsfr.internals.state`);
 * with any other shape it does nothing and DSFR runs as shipped. Tested by
 * tests/browser/test_console_idle.py. */
(function () {
  "use strict";
  var dsfr = window.dsfr;
  var state = dsfr && dsfr.internals && dsfr.internals.state;
  var renderer = state && typeof state.getModule === "function" ? state.getModule("render") : null;
  var render = renderer ? Object.getPrototypeOf(renderer).render : null;
  if (!renderer || !renderer.nexts || typeof render !== "function" || typeof renderer.rendering !== "function") {
    return;
  }
  var idle = false;
  var last = -1;
  function hasWork() { return renderer.length > 0 || renderer.nexts.length > 0; }
  function tick(time) {
    if (time === last) { return; }  /* a second loop met in the same frame: it ends here */
    last = time;
    if (!hasWork()) { idle = true; return; }
    idle = false;
    render.call(renderer);  /* DSFR renders, then asks for its next frame: this function */
  }
  function wake() {
    if (idle && state.isActive) {
      idle = false;
      window.requestAnimationFrame(tick);
    }
  }
  renderer.rendering = tick;      /* the frame DSFR already asked for runs tick next */
  renderer.onAdd = wake;          /* a component starts rendering on every frame */
  renderer.nexts.onAdd = wake;    /* a component asks for the next frame */
  document.documentElement.dataset.dsfrIdle = "on";
})();
