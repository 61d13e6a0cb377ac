// A store that counts its calls, to show that forged tokens cost no store traffic. A Proxy, not a subclass, so it
// wraps whatever store the server uses by default; methods run bound to the real store (private fields work).
// Only the methods that reach the data (I/O on a networked store); createSession/load/regenerate are built on these.
const DATA_OPS = new Set(['get', 'set', 'destroy', 'touch', 'all', 'length', 'clear', 'compareAndSet']);

export function countingStore(store) {
  const calls = Object.create(null);
  const proxy = new Proxy(store, {
    get(target, prop, _receiver) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function' || !DATA_OPS.has(prop)) return typeof value === 'function' ? value.bind(target) : value;
      return (...args) => {
        calls[prop] = (calls[prop] ?? 0) + 1;
        return value.apply(target, args);
      };
    },
  });
  const total = () => Object.values(calls).reduce((a, b) => a + b, 0);
  const reset = () => {
    for (const k of Object.keys(calls)) delete calls[k];
  };
  return { store: proxy, calls, total, reset };
}
