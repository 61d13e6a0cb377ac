import { expirySuite } from './expiry.suite.ts';

expirySuite('firefox');
