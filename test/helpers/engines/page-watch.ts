/**
 * An in-page error watch, for the engine whose driver reports no page events (WebKit over classic WebDriver):
 * uncaught errors, unhandled rejections and console.error calls go to window.__hsErrors, read and emptied by the
 * harness. The fixture pages' server puts it first in every page, so it sees the page's own first script run;
 * on other pages (the demo's) WebKit installs it after each navigation, so an error while such a page first loads
 * is seen by the Chromium and Firefox runs only.
 */
export const PAGE_WATCH = `(function () {
  if (window.__hsErrors) return;
  var errors = (window.__hsErrors = []);
  function text(e) {
    if (e && e.message !== undefined) return String(e.name || 'Error') + ': ' + e.message + (e.stack ? '\\n' + e.stack : '');
    return String(e);
  }
  window.addEventListener('error', function (e) { errors.push({ kind: 'pageerror', text: e.error ? text(e.error) : String(e.message) }); });
  window.addEventListener('unhandledrejection', function (e) { errors.push({ kind: 'pageerror', text: 'unhandled rejection: ' + text(e.reason) }); });
  var error = console.error;
  console.error = function () {
    errors.push({ kind: 'console.error', text: Array.prototype.map.call(arguments, String).join(' ') });
    return error.apply(this, arguments);
  };
})();`;
