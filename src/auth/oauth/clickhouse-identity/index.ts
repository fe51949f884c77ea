export * from './auth-error.js';
export * from './auth-method-cache.js';
export * from './basic-username.js';
export * from './clickhouse-identity.js';
export * from './credential-source.js';
export * from './role-activation.js';
export * from './token-claims.js';
export * from './clickhouse-probe.js';
