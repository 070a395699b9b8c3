/*
 * journeys.js: the browser snippet of the journeys collector.
 *
 * Load it from the collector with the site's public write key:
 *
 *   <script async src="https://collector.example/journeys.js" data-key="WRITE_KEY"></script>
 *
 * (a page with a Content-Security-Policy must allow the collector's origin in both
 * script-src and connect-src; beacons count as connections).
 *
 * With no other code it records
 *   - "pageview" when the page loads, and when a single-page app changes path;
 *   - "scroll" with scroll_depth = T the first time the bottom of the visitor's view
 *     reaches T percent of the page, for T in 25, 50, 75, 90, 100 (the view on load
 *     counts, so a page that fits the window is read to 100);
 *   - "button_click" with button_clicked = NAME for a click on, or inside, an element
 *     marked data-journeys-click="NAME"; its other data-journeys-* attributes become
 *     fields too (data-journeys-content-id="m42" gives content_id "m42").
 * and the page adds its own:
 *   journeys.track("transaction", {content_id: "m42", purchase_value: 3.99});
 *   journeys.identify("user-17");
 *
 * The API, all on window.journeys:
 *   init(options)        start, when the script tag has no data-key
 *   track(type, fields)  record an event; returns its event_id
 *   page(fields)         record a pageview (for single-page apps that route by hand)
 *   identify(userId)     put user_id on every later event
 *   set(fields)          put these fields on every later event (null removes one)
 *   reset()              forget the user and the set() fields (on logout)
 *   flush()              send what waits now; a Promise of true once all was answered,
 *                        false when a failure left some for a later retry
 *   optOut(), optIn()    stop recording (dropping what waits), and start again
 *   version              "1"; a second copy of the script on the page does nothing
 * Calls made before the script has run can wait in an array, replayed in order:
 *   window.journeys = window.journeys || []; journeys.push(["identify", "user-17"]);
 *
 * Options: the script tag's data-* attribute, or the key of init's object.
 *   data-key            key            the site's write key (required)
 *   data-endpoint       endpoint       where events go; default /events next to this file
 *   data-pageview       pageview       "false": no pageview on load
 *   data-spa            spa            "false": no pageview on history.pushState/popstate
 *   data-scroll         scroll         thresholds, "25,50,75,90,100"; "false": none
 *   data-clicks         clicks         "false": ignore data-journeys-click
 *   data-batch-size     batchSize      events per request, 20
 *   data-flush-interval flushInterval  ms an event may wait for others, 2000
 *   data-persistence    persistence    "none" (default), "localStorage" or "cookie"
 *   data-user-id        userId         the user, as identify() would set it
 *   data-debug          debug          "true": log every event and answer to the console
 *
 * Every event carries event_type, event_id (a random UUID: the collector stores a
 * re-sent event once), time (ms since the epoch, this clock), page_url (location
 * without its #fragment, which may hold tokens), device_type (guessed from the user
 * agent and screen), referral_source (utm_source of the page's URL, else the name or
 * host of another site that linked here, else "Direct" when nothing did; none when a
 * page of this site did), user_id after identify, the set() fields and the call's
 * fields. Each request stamps sent_at on its events, so the collector can correct a
 * client clock that is wrong.
 *
 * Limitation: a visitor who has not been identified sends no user_id, so analyses by
 * user cannot follow anonymous visits from page to page, and the second page of a visit
 * does not know where the visit came from. The schema has no anonymous id; one (kept
 * under persistence, with the visit's source) would fix both.
 *
 * Sending. Events wait until batchSize of them do, or flushInterval ms after the first;
 * then they go as one text/plain JSON array with the key in the URL (a "simple"
 * request: no CORS preflight). While the page is visible they go by fetch with
 * keepalive, whose answer is read: a network failure, 408, 429 or 5xx puts the batch
 * back to be sent again, with the same event_ids, after a growing pause (Retry-After
 * when the collector gives one); 413 halves the batch; another refusal is logged.
 * When the page is hidden or unloaded (visibilitychange, pagehide) whatever waits goes
 * at once by navigator.sendBeacon, which the browser delivers after the page is gone,
 * or by fetch with keepalive where sendBeacon is missing or refuses (too big). Requests
 * stay under 60 000 bytes, below the 64 KiB browsers allow such requests. At most
 * 1000 events wait for a collector that cannot be reached; past that the oldest go,
 * and the console says how many.
 * An origin the key does not allow gets its 403 without CORS headers, so the browser
 * hides it: the console shows a CORS error, and the snippet, which cannot tell it from
 * a network failure, retries at most every 30 s.
 *
 * Privacy. Without persistence nothing is written to cookies or storage: the user id
 * lasts as long as the page. With "localStorage" or "cookie" (a first-party cookie
 * "journeys", one year) the user id and the opt-out are kept across pages.
 *
 * A page that goes while the collector fails (its last request was not answered)
 * hands what waits to sendBeacon all the same; with "localStorage" it also keeps
 * those events ("journeys.unsent") and the next page of the site sends them again,
 * with their ids and times: the collector stores at most one of each.
 * Limitation: without localStorage persistence those events are lost when the beacon
 * finds the collector down too; only storage could keep them, which the site must ask.
 */
(() => {
  "use strict";

  // A page that includes the snippet twice must not count everything twice.
  if (window.journeys && window.journeys.version) {
    console.warn("journeys: journeys.js is on this page twice; the second does nothing");
    return;
  }

  const MAX_REQUEST_BYTES = 60000;
  const MAX_WAITING = 1000; // events kept while the collector cannot be reached
  const MAX_URL = 4096; // the collector's limit for page_url
  const MAX_TAG = 256; // and for the tags referral_source and device_type
  const DEFAULTS = {
    key: null,
    endpoint: null,
    pageview: true,
    spa: true,
    scroll: [25, 50, 75, 90, 100],
    clicks: true,
    batchSize: 20,
    flushInterval: 2000,
    persistence: "none",
    userId: null,
    debug: false,
  };

  const script = document.currentScript;
  const encoder = new TextEncoder();

  let config = null; // set by init
  let userId = null;
  let props = {}; // the fields set() puts on every event
  let optedOut = false;
  let queue = []; // events not yet handed to the network
  let sending = null; // the Promise of the request in flight
  let timer = 0;
  let failures = 0; // failed requests in a row, for the pause before the next
  let batchCap = Infinity; // lowered when the collector answers 413
  let reached = {}; // scroll thresholds reported on this page
  let frame = 0; // the animation frame that will look at the scroll position
  let path = location.pathname;

  // ---- helpers ----

  const log = (...args) => config && config.debug && console.debug("journeys:", ...args);

  function uuid() {
    // randomUUID exists only in secure contexts; getRandomValues everywhere.
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)]
      .join("-");
  }

  // A tag value the collector takes: no control characters (a line break is refused),
  // not empty, not too long. Returns undefined when nothing is left.
  function tag(value) {
    const text = String(value).replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
    return text ? text.slice(0, MAX_TAG) : undefined;
  }

  function pageUrl() {
    return location.href.split("#")[0].slice(0, MAX_URL);
  }

  function deviceType() {
    const ua = navigator.userAgent;
    if (/smart-?tv|googletv|appletv|hbbtv|netcast|roku|crkey|bravia|aft[a-z]\b/i.test(ua)) {
      return "tv";
    }
    if (/(tizen|web0s|webos).*tv|tv.*(tizen|web0s|webos)/i.test(ua)) return "tv";
    if (/ipad|tablet|playbook|silk|kindle|android(?!.*mobile)/i.test(ua)) return "tablet";
    // iPadOS presents itself as a Mac: a Mac with a touch screen is an iPad.
    if (/macintosh/i.test(ua) && navigator.maxTouchPoints > 1) return "tablet";
    if (/mobi|iphone|ipod|android|blackberry|iemobile|opera mini/i.test(ua)) return "mobile";
    if (navigator.userAgentData && navigator.userAgentData.mobile) return "mobile";

    // Nothing in the user agent: a touch-only screen is a phone or a tablet by its size.
    if (matchMedia("(pointer: coarse)").matches && !matchMedia("(pointer: fine)").matches) {
      return Math.min(screen.width, screen.height) < 600 ? "mobile" : "tablet";
    }
    return "desktop";
  }

  // Names for the sites people most often come from, as the toolkit's data uses them.
  const SOURCES = [
    [/(^|\.)(mail\.google|outlook\.live|mail\.yahoo|mail\.proton)\./, "Email"],
    [/(^|\.)google\./, "Google"],
    [/(^|\.)bing\./, "Bing"],
    [/(^|\.)(facebook|fb)\.(com|me)$/, "Facebook"],
    [/(^|\.)(twitter\.com|x\.com|t\.co)$/, "Twitter"],
    [/(^|\.)instagram\.com$/, "Instagram"],
  ];

  function referralSource() {
    const utm = new URLSearchParams(location.search).get("utm_source");
    if (utm && tag(utm)) return tag(utm);
    if (!document.referrer) return "Direct";

    let host;
    try {
      host = new URL(document.referrer).hostname;
    } catch (e) {
      return undefined;
    }
    if (host === location.hostname) return undefined; // a page of this site: not known
    const known = SOURCES.find(([pattern]) => pattern.test(host));
    return known ? known[1] : tag(host.replace(/^www\./, ""));
  }

  // The fields every event gets from the page, computed once: they do not change.
  const context = { device_type: deviceType(), referral_source: referralSource() };

  // ---- persistence (only when asked) ----

  function load() {
    try {
      if (config.persistence === "localStorage") {
        return JSON.parse(localStorage.getItem("journeys") || "{}");
      }
      if (config.persistence === "cookie") {
        const m = document.cookie.match(/(?:^|;\s*)journeys=([^;]*)/);
        return m ? JSON.parse(decodeURIComponent(m[1])) : {};
      }
    } catch (e) {
      log("stored state unreadable, ignored", e);
    }
    return {};
  }

  // Events the next page sends again (localStorage only: a cookie is too small).
  function keepUnsent(events) {
    if (!config || config.persistence !== "localStorage") return;
    try {
      const old = JSON.parse(localStorage.getItem("journeys.unsent") || "[]");
      const kept = old.concat(events).slice(-MAX_WAITING);
      localStorage.setItem("journeys.unsent", JSON.stringify(kept));
    } catch (e) {
      log("unsent events not stored", e);
    }
  }

  function takeUnsent() {
    if (config.persistence !== "localStorage") return [];
    try {
      const events = JSON.parse(localStorage.getItem("journeys.unsent") || "[]");
      localStorage.removeItem("journeys.unsent");
      return Array.isArray(events) ? events : [];
    } catch (e) {
      log("unsent events unreadable, ignored", e);
      return [];
    }
  }

  function save() {
    if (!config) return;
    const state = JSON.stringify({ user_id: userId, opted_out: optedOut });
    try {
      if (config.persistence === "localStorage") localStorage.setItem("journeys", state);
      if (config.persistence === "cookie") {
        const secure = location.protocol === "https:" ? "; Secure" : "";
        document.cookie = `journeys=${encodeURIComponent(state)}; path=/; ` +
          `max-age=31536000; SameSite=Lax${secure}`;
      }
    } catch (e) {
      log("state not stored", e);
    }
  }

  // ---- sending ----

  function url() {
    const u = new URL(config.endpoint, location.href);
    u.searchParams.set("key", config.key);
    return u.href;
  }

  // The events as requests { body, events, size }: at most `cap` events and
  // MAX_REQUEST_BYTES each (an event bigger than that goes alone; the collector says
  // why it refuses it).
  function bodies(events, cap) {
    const sentAt = Date.now();
    const out = [];
    let parts = [];
    let size = 2;
    const close = (end) => {
      const body = `[${parts.join(",")}]`;
      out.push({ body, events: events.slice(end - parts.length, end), size });
    };
    events.forEach((event, i) => {
      const json = JSON.stringify({ ...event, sent_at: sentAt });
      const bytes = encoder.encode(json).length + 1;
      if (parts.length && (parts.length >= cap || size + bytes > MAX_REQUEST_BYTES)) {
        close(i);
        parts = [];
        size = 2;
      }
      parts.push(json);
      size += bytes;
    });
    if (parts.length) close(events.length);
    return out;
  }

  // keepalive lets the request outlive the page, for bodies within the browser's quota.
  function post({ body, size }, keepalive = size <= MAX_REQUEST_BYTES) {
    return fetch(url(), {
      method: "POST",
      body,
      keepalive,
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "text/plain;charset=UTF-8" },
    });
  }

  // What a collector's answer means for the batch: "done", "retry" or "split".
  async function outcome(response, batch) {
    log("answer", response.status);
    if (response.ok) {
      const answer = await response.json().catch(() => null);
      for (const r of (answer && answer.results) || []) {
        if (r.status === "rejected") {
          const event = batch[r.index] || {};
          console.warn(`journeys: ${event.event_type} event refused: ${r.field}: ${r.reason}`);
        }
      }
      return "done";
    }
    if ([408, 429].includes(response.status) || response.status >= 500) return "retry";
    if (response.status === 413 && batch.length > 1) return "split";
    const text = await response.text().catch(() => "");
    console.error(`journeys: ${batch.length} events refused (${response.status}): ${text}`);
    return "done";
  }

  function pause(response) {
    const after = response && Number(response.headers.get("Retry-After"));
    if (after > 0) return after * 1000;
    // 1 s, 2 s, 4 s ... up to 30 s, each shortened at random by up to half, so that
    // the pages a collector's outage failed do not all come back at the same moment.
    return Math.min(30000, 1000 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
  }

  function schedule(delay) {
    if (!timer) timer = setTimeout(() => { timer = 0; drain(); }, delay);
  }

  // Send what waits, one request at a time, while the collector takes it. Resolves to
  // true when nothing is left, false when a failure left events for a later retry.
  function drain() {
    if (sending) return sending;
    if (!config || optedOut || !queue.length) return Promise.resolve(!queue.length);
    clearTimeout(timer);
    timer = 0;

    const request = bodies(queue, Math.min(config.batchSize, batchCap))[0];
    const count = request.events.length;
    const batch = queue.splice(0, count);
    let response = null;
    log("sending", count, "events");
    sending = post(request)
      .then((r) => outcome((response = r), batch))
      .catch((error) => {
        log("not sent", error);
        return "retry";
      })
      .then((result) => {
        sending = null;
        if (result === "done") {
          failures = 0;
          return queue.length ? drain() : true;
        }
        queue = batch.concat(queue);
        if (result === "split") {
          batchCap = Math.max(1, Math.floor(count / 2));
          return drain();
        }
        failures += 1;
        schedule(pause(response));
        return false;
      });
    return sending;
  }

  // The page is going (or hidden, maybe for good): hand everything to the browser now.
  function leave() {
    if (!config || optedOut || !queue.length) return;
    clearTimeout(timer);
    timer = 0;
    const events = queue;
    queue = [];
    if (failures) keepUnsent(events); // the collector failed: the beacon may fail too
    for (const request of bodies(events, Math.min(config.batchSize, batchCap))) {
      const blob = new Blob([request.body], { type: "text/plain;charset=UTF-8" });
      if (navigator.sendBeacon && navigator.sendBeacon(url(), blob)) {
        log("beacon", request.events.length, "events");
        continue;
      }
      // Over the keepalive quota the fetch is refused at once: then try a plain one.
      // A failure seen here means the page was only hidden (code still runs): keep them.
      log("keepalive fetch", request.events.length, "events");
      post(request)
        .catch(() => post(request, false))
        .then((response) => outcome(response, request.events))
        .then((result) => {
          if (result !== "done") throw new Error(`the collector answered: ${result}`);
        })
        .catch((e) => {
          log("not sent", e);
          queue = request.events.concat(queue);
          failures += 1;
          schedule(pause(null));
        });
    }
  }

  // ---- recording ----

  function track(type, fields) {
    if (typeof type !== "string" || !type) {
      console.error("journeys: track needs an event type, a non-empty string; got", type);
      return undefined;
    }
    if (optedOut) return undefined;

    // The call's fields win over set()'s, which win over the page's; a field may give
    // its own time or page_url, never its own type or id.
    const event = {
      time: Date.now(),
      page_url: pageUrl(),
      ...context,
      user_id: userId,
      ...props,
      ...fields,
      event_type: type,
      event_id: uuid(),
    };
    for (const name of Object.keys(event)) {
      if (event[name] === undefined || event[name] === null) delete event[name];
    }
    log("event", event);

    queue.push(event);
    if (queue.length > MAX_WAITING) {
      const lost = queue.splice(0, queue.length - MAX_WAITING);
      console.warn(`journeys: the collector cannot be reached; ${lost.length} oldest ` +
        "events dropped");
    }
    // After a failure the retry timer sends them: sending more now would only fail too.
    if (config && !failures) {
      if (queue.length >= config.batchSize) drain();
      else schedule(config.flushInterval);
    }
    return event.event_id;
  }

  // Scroll events come by the dozen a second: look at the position once per frame.
  function onScroll() {
    if (!frame) frame = requestAnimationFrame(() => { frame = 0; checkScroll(); });
  }

  function checkScroll() {
    if (!config || document.readyState === "loading") return;
    if (config.scroll.every((threshold) => reached[threshold])) return;
    const doc = document.documentElement;
    const height = Math.max(doc.scrollHeight, document.body ? document.body.scrollHeight : 0);
    const seen = window.scrollY + window.innerHeight + 1; // 1 px for rounding at zoom
    for (const threshold of config.scroll) {
      if (!reached[threshold] && seen >= (height * threshold) / 100) {
        reached[threshold] = true;
        track("scroll", { scroll_depth: threshold });
      }
    }
  }

  function onClick(e) {
    const el = e.target && e.target.closest && e.target.closest("[data-journeys-click]");
    if (!el) return;
    const fields = {};
    for (const attr of el.attributes) {
      if (attr.name.startsWith("data-journeys-") && attr.name !== "data-journeys-click") {
        fields[attr.name.slice(14).replace(/-/g, "_")] = attr.value;
      }
    }
    fields.button_clicked = el.getAttribute("data-journeys-click") || el.id ||
      el.textContent.trim().slice(0, MAX_TAG);
    track("button_click", fields);
  }

  // A single-page app moved to another path: that is another page.
  function onRoute() {
    if (location.pathname === path) return;
    path = location.pathname;
    reached = {};
    track("pageview");
    setTimeout(checkScroll, 100); // once the new page is drawn
  }

  // ---- configuration ----

  function attributes(el) {
    const options = {};
    if (!el) return options;
    const d = el.dataset;
    const flag = (v) => v !== "false" && v !== "0";
    if (d.key) options.key = d.key;
    if (d.endpoint) options.endpoint = d.endpoint;
    if (d.pageview) options.pageview = flag(d.pageview);
    if (d.spa) options.spa = flag(d.spa);
    if (d.scroll) options.scroll = flag(d.scroll) ? d.scroll.split(",").map(Number) : [];
    if (d.clicks) options.clicks = flag(d.clicks);
    if (d.batchSize) options.batchSize = Number(d.batchSize);
    if (d.flushInterval) options.flushInterval = Number(d.flushInterval);
    if (d.persistence) options.persistence = d.persistence;
    if (d.userId) options.userId = d.userId;
    if (d.debug) options.debug = flag(d.debug);
    return options;
  }

  function init(options) {
    if (config) {
      console.warn("journeys: init was called again; the first configuration stays");
      return;
    }
    const c = { ...DEFAULTS, ...options };
    if (typeof c.key !== "string" || !c.key) {
      console.error("journeys: init needs the site's write key: data-key or {key: ...}");
      return;
    }
    if (!c.endpoint) {
      c.endpoint = script && script.src ? new URL("events", script.src).href : "/events";
    }
    if (c.scroll === false) c.scroll = [];
    if (!Array.isArray(c.scroll) || c.scroll.some((t) => !(t > 0 && t <= 100))) {
      console.error("journeys: scroll thresholds must be percentages in (0, 100]; got",
        c.scroll, "- using none");
      c.scroll = [];
    }
    c.scroll = [...c.scroll].sort((a, b) => a - b);
    if (!(c.batchSize >= 1)) c.batchSize = DEFAULTS.batchSize;
    if (!(c.flushInterval >= 0)) c.flushInterval = DEFAULTS.flushInterval;
    if (!["none", "localStorage", "cookie"].includes(c.persistence)) {
      console.error('journeys: persistence is "none", "localStorage" or "cookie"; got',
        c.persistence, '- using "none"');
      c.persistence = "none";
    }
    config = c;

    // identify() before init wins over the stored user, and is stored now.
    const stored = load();
    if (stored.opted_out) optedOut = true;
    const unsent = takeUnsent();
    if (!optedOut) queue = unsent.concat(queue);
    if (c.userId) userId = String(c.userId);
    if (!userId && stored.user_id) userId = stored.user_id;
    if (userId) save();

    if (c.pageview) track("pageview");
    if (c.clicks) document.addEventListener("click", onClick, true);
    addEventListener("scroll", onScroll, { passive: true });
    addEventListener("resize", onScroll, { passive: true });
    if (document.readyState === "complete") checkScroll();
    else addEventListener("load", checkScroll);
    if (c.spa) {
      for (const name of ["pushState", "replaceState"]) {
        const original = history[name];
        history[name] = function (...args) {
          const result = original.apply(this, args);
          onRoute();
          return result;
        };
      }
      addEventListener("popstate", onRoute);
    }
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") leave();
    });
    addEventListener("pagehide", leave);
    if (queue.length) schedule(0); // events tracked before init
  }

  function identify(id) {
    if (id === undefined || id === null || id === "") {
      console.error("journeys: identify needs a user id; got", id);
      return;
    }
    userId = String(id);
    save();
  }

  const api = {
    version: "1",
    init,
    track,
    page: (fields) => track("pageview", fields),
    identify,
    set(fields) {
      for (const [name, value] of Object.entries(fields || {})) {
        if (value === null || value === undefined) delete props[name];
        else props[name] = value;
      }
    },
    reset() {
      userId = null;
      props = {};
      save();
    },
    flush: () => drain(),
    optOut() {
      optedOut = true;
      queue = [];
      save();
    },
    optIn() {
      optedOut = false;
      save();
    },
    push: ([method, ...args]) => api[method](...args), // calls queued before loading
  };

  // Calls queued before loading run first, so that an identify() there is on the
  // pageview; then the script tag's configuration, if it has a key.
  const early = Array.isArray(window.journeys) ? window.journeys : [];
  window.journeys = api;
  for (const call of early) api.push(call);
  const options = attributes(script);
  if (options.key) init(options);
})();
