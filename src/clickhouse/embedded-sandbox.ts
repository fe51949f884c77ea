import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClickHouseQueryError } from './clickhouse-error.js';

/**
 * The embedded engine's sandbox. chDB runs as `clickhouse local` inside the gateway process, and `clickhouse
 * local` lets SQL read and write any file the process can (`file('/etc/passwd')`, `INSERT INTO FUNCTION
 * file(…)`, `ENGINE = File(…)`), and reach the network (`url()`, `remote()`, `s3()`…): its `user_files_path`
 * is not enforced for the LOCAL application type. What chDB 3.4 does enforce is access control: the engine
 * is opened with `--config-file` (accepted through `Session(path, { connectionArgs })`), whose users file gives
 * the `default` user only the grants the gateway needs. Without `READ`/`WRITE ON FILE`, `URL`, `REMOTE`,
 * `S3`, … every such table function and table engine is refused by the engine itself (code 497), whatever
 * the SQL. `user_files_path` points at an empty directory of the sandbox's own all the same.
 *
 * Not covered by grants: `SELECT … INTO OUTFILE` is written by the client part of `clickhouse local`, with no
 * access check and no setting to turn it off (checked: `readonly`, grants); the data layer refuses it on the
 * embedded engine (see ClickHouseService).
 *
 * The engine binds one data directory per process and every connection to that directory shares the server
 * of the first one, so the sandbox session is opened first and held until the last connection is gone, and
 * each opening checks that the grants are in force (a session someone opened without them would not be).
 * The sandbox files live in a temporary directory of their own (`cmg-embedded-*`, removed with the last
 * connection); for `:memory:` the data directory is inside it too.
 */

/** The privileges of the embedded engine's only user: local data, nothing that reaches a file or the network. */
export const EMBEDDED_GRANTS =
  'SHOW, SELECT, INSERT, ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW, CREATE TEMPORARY TABLE, DROP, TRUNCATE, OPTIMIZE, dictGet ON *.*';

export interface SandboxSession {
  query(sql: string, format?: string): unknown;
  close(): void;
}

export type SessionFactory = (path: string, opts: { connectionArgs: string[] }) => SandboxSession;

export interface EmbeddedSandbox {
  /** Data directory to open connections on (a temporary one for `:memory:`). */
  readonly dataPath: string;
  /** The empty directory that is the engine's `user_files_path`. */
  readonly userFilesPath: string;
  release(): void;
}

interface Entry {
  refs: number;
  session: SandboxSession;
  root: string;
  dataPath: string;
  userFilesPath: string;
}

const entries = new Map<string, Entry>();

const xmlText = (value: string): string => value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Opens (or joins) the sandboxed engine for an `embedded_path` (`:memory:` or a directory). */
export function acquireSandbox(openSession: SessionFactory, embeddedPath: string): EmbeddedSandbox {
  const memory = !embeddedPath || embeddedPath === ':memory:';
  const key = memory ? ':memory:' : resolve(embeddedPath);
  let entry = entries.get(key);
  if (!entry) {
    entry = open(openSession, key, memory);
    entries.set(key, entry);
  }
  entry.refs++;
  const held = entry;
  let released = false;
  return {
    dataPath: held.dataPath,
    userFilesPath: held.userFilesPath,
    release: () => {
      if (released) return;
      released = true;
      if (--held.refs > 0) return;
      entries.delete(key);
      try {
        held.session.close();
      } finally {
        rmSync(held.root, { recursive: true, force: true });
      }
    },
  };
}

function open(openSession: SessionFactory, key: string, memory: boolean): Entry {
  const root = mkdtempSync(join(tmpdir(), 'cmg-embedded-'));
  const dataPath = memory ? join(root, 'data') : key;
  const userFilesPath = join(root, 'user_files');
  mkdirSync(userFilesPath, { mode: 0o700 });
  const usersFile = join(root, 'users.xml');
  const configFile = join(root, 'config.xml');
  writeFileSync(
    usersFile,
    `<clickhouse><profiles><default></default></profiles><users><default><password></password><networks><ip>::1</ip><ip>127.0.0.1</ip></networks>` +
      `<profile>default</profile><quota>default</quota><grants><query>GRANT ${EMBEDDED_GRANTS}</query></grants></default></users>` +
      `<quotas><default></default></quotas></clickhouse>\n`,
    { mode: 0o600 },
  );
  writeFileSync(
    configFile,
    `<clickhouse><user_files_path>${xmlText(userFilesPath)}/</user_files_path><users_config>${xmlText(usersFile)}</users_config></clickhouse>\n`,
    { mode: 0o600 },
  );
  let session: SandboxSession | undefined;
  try {
    session = openSession(dataPath, { connectionArgs: [`--config-file=${configFile}`] });
    verify(session, userFilesPath);
  } catch (err) {
    try {
      session?.close();
    } catch {
      /* already failing */
    }
    rmSync(root, { recursive: true, force: true });
    if (err instanceof ClickHouseQueryError) throw err;
    throw new ClickHouseQueryError({
      kind: 'unreachable',
      userMessage: `embedded engine could not open ${memory ? 'an in-memory database' : key}: ${(err as Error).message}`,
      serverMessage: (err as Error).message ?? String(err),
      cause: err,
    });
  }
  return { refs: 0, session, root, dataPath, userFilesPath };
}

/** Fails closed when the engine did not take the sandbox (e.g. a session at this path was opened before, without it). */
function verify(session: SandboxSession, userFilesPath: string): void {
  const grants = String(session.query('SHOW GRANTS', 'TabSeparated'));
  const fileRead = (() => {
    try {
      session.query("SELECT count() FROM file('/dev/null', 'LineAsString')", 'TabSeparated');
      return 'allowed';
    } catch (err) {
      return /\b497\b|ACCESS_DENIED|Not enough privileges/.test((err as Error).message ?? '') ? 'denied' : 'failed';
    }
  })();
  const filesPath = String(session.query("SELECT value FROM system.server_settings WHERE name = 'user_files_path'", 'TabSeparated')).trim();
  if (fileRead !== 'denied' || /\bFILE\b|\bURL\b|\bALL\b/.test(grants) || !filesPath.startsWith(userFilesPath)) {
    throw new ClickHouseQueryError({
      kind: 'unreachable',
      userMessage:
        'embedded engine refused: its sandbox (no file or network access from SQL) is not in force — was the same data directory opened earlier in this process without it?',
      serverMessage: `grants: ${grants.trim()}; file(): ${fileRead}; user_files_path: ${filesPath}`,
    });
  }
}
