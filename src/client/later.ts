/**
 * setTimeout that does not keep Node alive (tests, server-side rendering): the session's timers are all about a
 * page that may go away. Delays are capped at the 32-bit maximum setTimeout accepts (a longer one fires at once).
 */
export const later = (fn: () => void, ms: number): ReturnType<typeof setTimeout> => {
  const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
  (t as { unref?: () => void }).unref?.();
  return t;
};
