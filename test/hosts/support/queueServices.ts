/**
 * The services n8n's queue mode needs, started by the tests themselves as users run them: Redis (Debian's package,
 * unpacked into the hosts cache by test/hosts/ensure-hosts.sh) and PostgreSQL (Debian's `postgresql`), each a
 * throwaway instance on a free loopback port with its data in a temporary folder.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';

const HOSTS_CACHE = process.env.KSEF_HOSTS_CACHE ?? path.join(os.homedir(), '.cache', 'ksef-flow-hosts');
/** PostgreSQL refuses to run as root: as root, its processes run as this user. */
const POSTGRES_USER = 'nobody';
const DATABASE = 'n8n';

/** Redis and PostgreSQL for one test file, and the n8n settings that point at them. */
export class QueueServices {
  private constructor(
    private readonly folder: string,
    private readonly redis: ChildProcess,
    readonly redisPort: number,
    private readonly postgres: { bin: string; dataDir: string },
    readonly postgresPort: number,
  ) {}

  static async start(): Promise<QueueServices> {
    const redisServer = path.join(HOSTS_CACHE, 'redis', 'usr', 'bin', 'redis-server');
    if (!fs.existsSync(redisServer)) throw new Error(`Redis is not unpacked at ${redisServer}: run test/hosts/ensure-hosts.sh first.`);
    const postgresBin = findPostgresBin();
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'ksef-queue-'));
    const [redisPort, postgresPort] = [await freePort(), await freePort()];
    const redis = spawn(redisServer, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      env: { ...process.env, LD_LIBRARY_PATH: path.join(HOSTS_CACHE, 'redis', 'usr', 'lib', 'x86_64-linux-gnu') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let redisLog = '';
    const keep = (chunk: Buffer) => (redisLog = (redisLog + chunk.toString('utf8')).slice(-4000));
    redis.stdout!.on('data', keep);
    redis.stderr!.on('data', keep);
    const dataDir = path.join(folder, 'postgres');
    const services = new QueueServices(folder, redis, redisPort, { bin: postgresBin, dataDir }, postgresPort);
    try {
      await waitForPort(redisPort, 'Redis').catch((error: Error) => {
        throw new Error(`${error.message}:\n${redisLog}`);
      });
      services.startPostgres();
      await waitForPort(postgresPort, 'PostgreSQL');
      return services;
    } catch (error) {
      await services.stop();
      throw error;
    }
  }

  /** What n8n's main process and its workers need to share Redis and the database (queue mode). */
  n8nEnv(): NodeJS.ProcessEnv {
    return {
      EXECUTIONS_MODE: 'queue',
      QUEUE_BULL_REDIS_HOST: '127.0.0.1',
      QUEUE_BULL_REDIS_PORT: String(this.redisPort),
      DB_TYPE: 'postgresdb',
      DB_POSTGRESDB_HOST: '127.0.0.1',
      DB_POSTGRESDB_PORT: String(this.postgresPort),
      DB_POSTGRESDB_USER: DATABASE,
      DB_POSTGRESDB_DATABASE: DATABASE,
    };
  }

  /** The rows of `sql` in n8n's database, as psql prints them unaligned (`|` between fields). */
  query(sql: string): string[] {
    const result = spawnSync(
      path.join(this.postgres.bin, 'psql'),
      ['-h', '127.0.0.1', '-p', String(this.postgresPort), '-U', DATABASE, '-d', DATABASE, '-At', '-c', sql],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (result.status !== 0) throw new Error(`psql failed: ${result.stderr || result.error?.message}`);
    return result.stdout.split('\n').filter(Boolean);
  }

  async stop(): Promise<void> {
    try {
      if (fs.existsSync(path.join(this.postgres.dataDir, 'postmaster.pid'))) {
        this.asPostgresUser(path.join(this.postgres.bin, 'pg_ctl'), ['-D', this.postgres.dataDir, '-m', 'immediate', 'stop']);
      }
    } finally {
      if (this.redis.exitCode === null && this.redis.signalCode === null) {
        const exited = new Promise((resolve) => this.redis.once('exit', resolve));
        this.redis.kill('SIGKILL');
        await exited;
      }
      fs.rmSync(this.folder, { recursive: true, force: true });
    }
  }

  /** A new cluster whose user `n8n` is trusted on loopback, started, and its database `n8n` made. */
  private startPostgres(): void {
    const { bin, dataDir } = this.postgres;
    fs.mkdirSync(dataDir);
    if (isRoot()) {
      const { uid, gid } = userIds(POSTGRES_USER);
      for (const owned of [this.folder, dataDir]) fs.chownSync(owned, uid, gid);
    }
    this.asPostgresUser(path.join(bin, 'initdb'), ['-D', dataDir, '-U', DATABASE, '--auth=trust', '-E', 'UTF8', '--no-sync']);
    this.asPostgresUser(path.join(bin, 'pg_ctl'), [
      '-D',
      dataDir,
      '-l',
      path.join(this.folder, 'postgres.log'),
      '-o',
      `-p ${this.postgresPort} -k ${this.folder} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-w',
      'start',
    ]);
    this.asPostgresUser(path.join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(this.postgresPort), '-U', DATABASE, DATABASE]);
  }

  private asPostgresUser(command: string, args: string[]): void {
    const [file, fileArgs] = isRoot() ? ['runuser', ['-u', POSTGRES_USER, '--', command, ...args]] : [command, args];
    const result = spawnSync(file, fileArgs, { cwd: this.folder, encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) {
      const log = path.join(this.folder, 'postgres.log');
      throw new Error(
        `${path.basename(command)} failed: ${result.stderr || result.stdout || result.error?.message}\n${fs.existsSync(log) ? fs.readFileSync(log, 'utf8').slice(-2000) : ''}`,
      );
    }
  }
}

/** Debian's PostgreSQL binaries (`postgresql-NN`), the newest installed. */
function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((name) => /^\d+$/.test(name)) : [];
  const bin = versions
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => path.join(root, version, 'bin'))
    .find((candidate) => fs.existsSync(path.join(candidate, 'initdb')));
  if (!bin) throw new Error(`PostgreSQL is not installed (no ${root}/<version>/bin/initdb): apt-get install postgresql.`);
  return bin;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

function userIds(name: string): { uid: number; gid: number } {
  const entry = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (!entry) throw new Error(`There is no user ${name} to run PostgreSQL as (it refuses root).`);
  return { uid: Number(entry[2]), gid: Number(entry[3]) };
}

async function waitForPort(port: number, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
