// widget.js: the embedding script a city website includes (docs/web.md, "Embedding"):
//   <div class="vigie-widget" data-view="pool" data-id="urn:ngsi-ld:SwimmingPool:reuilly"
//        data-capacity="300" data-lang="fr"></div>
//   <script src="https://VIGIE-HOST/assets/widget.js" async></script>
// Every .vigie-widget becomes a sandboxed iframe on <origin of this script>/display/<view>?embed=1.
// No dependency, no global but window.VigieWidget (scan() for widgets added later).

(function () {
  'use strict';

  var script = document.currentScript;
  var origin = '';
  try {
    origin = new URL(script && script.src ? script.src : window.location.href).origin;
  } catch (e) {
    origin = window.location.origin;
  }

  var TITLES = {
    fr: { noise: 'Niveau sonore', air: "Qualité de l'air", pool: 'Fréquentation de la piscine', city: 'La ville en direct' },
    en: { noise: 'Noise level', air: 'Air quality', pool: 'Swimming pool occupancy', city: 'The city, live' },
  };
  // data-* attributes passed on to the display page as URL parameters.
  var PASS = ['id', 'ids', 'type', 'lang', 'theme', 'title', 'capacity', 'refresh'];

  function build(el) {
    if (el.getAttribute('data-vigie-ready')) return;
    el.setAttribute('data-vigie-ready', '1');
    var d = el.dataset;
    var view = /^[a-z]+$/.test(d.view || '') ? d.view : 'noise';
    var q = new URLSearchParams();
    for (var i = 0; i < PASS.length; i++) {
      var k = PASS[i];
      if (d[k]) q.set(k, d[k]);
    }
    q.set('embed', '1');
    var lang = d.lang === 'en' ? 'en' : 'fr';
    var h = parseInt(d.height || '', 10);
    var frame = document.createElement('iframe');
    frame.src = origin + '/display/' + view + '?' + q.toString();
    frame.title = d.title || (TITLES[lang][view] || 'Vigie') + (d.id ? ' · ' + d.id.split(':').pop() : '');
    frame.loading = 'lazy';
    // Sandboxed: no top navigation, popups, forms or plugins. The frame keeps its own (Vigie's)
    // origin so that it can read the public API without CORS. When the page itself is on the
    // Vigie host (same origin), a sandbox with scripts and same-origin cannot hold the frame in
    // (browsers warn that it "can escape its sandboxing"), so none is set.
    if (origin !== window.location.origin) frame.setAttribute('sandbox', 'allow-scripts allow-same-origin');
    frame.setAttribute('referrerpolicy', 'no-referrer');
    frame.style.cssText =
      'display:block;width:100%;height:' + (h > 0 ? h : 220) + 'px;border:0;border-radius:10px;background:transparent;overflow:hidden';
    el.replaceChildren(frame);
  }

  function scan(root) {
    var list = (root || document).querySelectorAll('.vigie-widget');
    for (var i = 0; i < list.length; i++) build(list[i]);
  }

  window.VigieWidget = { scan: scan };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () {
      scan();
    });
  } else {
    scan();
  }
})();
