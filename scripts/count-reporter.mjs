// Counts leaf tests for run-tests.mjs: a describe() is a container, not a test; a failed one (a hook threw) counts.
export default async function* countReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const isSuite = event.data.details?.type === 'suite';
    if (event.type === 'test:fail') {
      // A suite's failure is already counted through its tests unless a hook failed before any test ran.
      if (!isSuite || event.data.details?.error?.failureType === 'hookFailed') counts.failed++;
    } else if (!isSuite) {
      if (event.data.skip !== undefined || event.data.todo !== undefined) counts.skipped++;
      else counts.passed++;
    }
  }
  yield JSON.stringify(counts);
}
