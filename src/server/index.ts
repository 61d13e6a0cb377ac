export { SUBPROTOCOL } from '../shared/protocol.js';
