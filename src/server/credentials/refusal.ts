import { HybridSessionError, type HybridSessionErrorCode } from '../../shared/errors.js';

/**
 * A HybridSessionError without a stack trace, for refusals that are answers rather than faults (a forged, expired or
 * missing credential, a foreign origin): capturing a stack costs several times the MAC check that decided the
 * refusal, and a flood of forged tokens should cost no more than that check. Code, status, closeCode and message
 * are those of `new HybridSessionError(code, message)`.
 */
export function refusal(code: HybridSessionErrorCode, message: string): HybridSessionError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new HybridSessionError(code, message);
  } finally {
    Error.stackTraceLimit = limit;
  }
}
