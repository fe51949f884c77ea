/**
 * The CLI mints with the gateway's own token code: one implementation for the server, the HTTP generator and
 * the command line, so a token the CLI prints is by construction one the server accepts.
 */
export { deriveJweKey, mintJweToken, type JweConnectionClaims, type JweSecrets } from '../auth/jwe/jwe-token.js';
