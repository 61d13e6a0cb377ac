import { expirySuite } from './expiry.suite.ts';

expirySuite('chromium');
