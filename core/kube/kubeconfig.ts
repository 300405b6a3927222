// Kubeconfig loading, without @kubernetes/client-node (whose module graph costs ~50 MiB of RSS in every
// process that imports it): what a component needs to reach its cluster, as client-go reads it.
//
// Where: an explicit path, else $KUBECONFIG (files separated by ':', merged: the first file that names a
// cluster, user or context wins, the current context is the first one set), else ~/.kube/config, else the
// in-cluster ServiceAccount (KUBERNETES_SERVICE_HOST/PORT, its token file and CA) — client-node's
// loadFromDefault order.
//
// What: the current context's cluster (server, certificate-authority[-data], insecure-skip-tls-verify,
// tls-server-name) and user (client-certificate[-data] + client-key[-data], token, tokenFile (read again on
// every refresh: kubelet rotates the ServiceAccount token), username + password, exec credential plugins
// (client.authentication.k8s.io v1/v1beta1, cached until their expirationTimestamp)). The REST client asks
// for credentials again every minute and after a 401. Not supported, with a clear error: auth-provider plugins
// (removed from client-go; use an exec plugin) and proxy-url.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { RequestOptions } from 'node:https';
import { createRequire } from 'node:module';
import type { KubeAccess } from './client.ts';

interface NamedCluster {
  name: string;
  cluster: {
    server?: string;
    'certificate-authority'?: string;
    'certificate-authority-data'?: string;
    'insecure-skip-tls-verify'?: boolean;
    'tls-server-name'?: string;
    'proxy-url'?: string;
  };
}

interface ExecConfig {
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
  apiVersion?: string;
}

interface NamedUser {
  name: string;
  user: {
    'client-certificate'?: string;
    'client-certificate-data'?: string;
    'client-key'?: string;
    'client-key-data'?: string;
    token?: string;
    tokenFile?: string;
    username?: string;
    password?: string;
    exec?: ExecConfig;
    'auth-provider'?: { name?: string };
  };
}

interface NamedContext {
  name: string;
  context: { cluster: string; user: string; namespace?: string };
}

interface KubeconfigDoc {
  clusters?: NamedCluster[];
  users?: NamedUser[];
  contexts?: NamedContext[];
  'current-context'?: string;
}

export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** A file path of a kubeconfig is relative to the file that names it. */
const pathIn = (base: string | undefined, p: string) => (isAbsolute(p) || !base ? p : resolve(dirname(base), p));
const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

interface ExecCredential {
  status?: {
    token?: string;
    clientCertificateData?: string;
    clientKeyData?: string;
    expirationTimestamp?: string;
  };
}

export class Kubeconfig implements KubeAccess {
  private readonly cluster: NamedCluster['cluster'] & { name: string };
  private readonly user: NamedUser['user'] & { name: string };
  /** File each cluster / user came from (relative paths are resolved against it). */
  private readonly clusterFile: string | undefined;
  private readonly userFile: string | undefined;
  readonly namespace: string | undefined;
  private exec: { at: number; expires: number; cred: ExecCredential['status'] } | undefined;

  private constructor(
    cluster: NamedCluster['cluster'] & { name: string },
    clusterFile: string | undefined,
    user: NamedUser['user'] & { name: string },
    userFile: string | undefined,
    namespace: string | undefined,
  ) {
    this.cluster = cluster;
    this.user = user;
    this.clusterFile = clusterFile;
    this.userFile = userFile;
    this.namespace = namespace;
    if (!cluster.server) throw new KubeconfigError(`cluster ${JSON.stringify(cluster.name)} has no server`);
    if (cluster['proxy-url'])
      throw new KubeconfigError(`cluster ${JSON.stringify(cluster.name)}: proxy-url is not supported`);
    if (user['auth-provider'])
      throw new KubeconfigError(
        `user ${JSON.stringify(user.name)}: auth-provider ${JSON.stringify(user['auth-provider'].name ?? '')} is not supported ` +
          '(client-go removed auth-provider plugins); use an exec credential plugin',
      );
  }

  /** From documents already read (merged in order: the first definition of a name wins). */
  static fromDocuments(docs: Array<{ doc: KubeconfigDoc; file?: string }>, context?: string): Kubeconfig {
    const clusters = new Map<string, { c: NamedCluster; file?: string }>();
    const users = new Map<string, { u: NamedUser; file?: string }>();
    const contexts = new Map<string, NamedContext>();
    let current = context;
    for (const { doc, file } of docs) {
      for (const c of doc.clusters ?? []) if (!clusters.has(c.name)) clusters.set(c.name, { c, file });
      for (const u of doc.users ?? []) if (!users.has(u.name)) users.set(u.name, { u, file });
      for (const x of doc.contexts ?? []) if (!contexts.has(x.name)) contexts.set(x.name, x);
      current ||= doc['current-context'];
    }
    if (!current) throw new KubeconfigError('the kubeconfig has no current-context');
    const ctx = contexts.get(current);
    if (!ctx) throw new KubeconfigError(`context ${JSON.stringify(current)} is not defined`);
    const cluster = clusters.get(ctx.context.cluster);
    if (!cluster) throw new KubeconfigError(`cluster ${JSON.stringify(ctx.context.cluster)} is not defined`);
    const user = users.get(ctx.context.user);
    if (!user) throw new KubeconfigError(`user ${JSON.stringify(ctx.context.user)} is not defined`);
    return new Kubeconfig(
      { ...cluster.c.cluster, name: cluster.c.name },
      cluster.file,
      { ...user.u.user, name: user.u.name },
      user.file,
      ctx.context.namespace,
    );
  }

  static fromYaml(yaml: string, file?: string): Kubeconfig {
    return Kubeconfig.fromDocuments([{ doc: parseDoc(yaml, file), file }]);
  }

  static fromFiles(files: string[]): Kubeconfig {
    return Kubeconfig.fromDocuments(files.map((file) => ({ doc: parseDoc(readFileSync(file, 'utf8'), file), file })));
  }

  /** The in-cluster ServiceAccount (`dir` holds token and ca.crt; tests point it elsewhere). */
  static inCluster(env: NodeJS.ProcessEnv = process.env, dir = SA_DIR): Kubeconfig {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) throw new KubeconfigError('not running in a cluster (no KUBERNETES_SERVICE_HOST/PORT)');
    const h = host.includes(':') ? `[${host}]` : host;
    const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
    return new Kubeconfig(
      { name: 'in-cluster', server: `${scheme}://${h}:${port}`, 'certificate-authority': join(dir, 'ca.crt') },
      undefined,
      { name: 'in-cluster', tokenFile: join(dir, 'token') },
      undefined,
      readOptional(join(dir, 'namespace'))?.trim(),
    );
  }

  /** An explicit file, else $KUBECONFIG, else ~/.kube/config, else the in-cluster ServiceAccount. */
  static load(path?: string, env: NodeJS.ProcessEnv = process.env): Kubeconfig {
    if (path) return Kubeconfig.fromFiles([path]);
    const list = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
    if (list.length) {
      // As kubectl: files of the list that do not exist are skipped.
      const present = list.filter((f) => existsSync(f));
      if (!present.length) throw new KubeconfigError(`none of the KUBECONFIG files exists: ${list.join(', ')}`);
      return Kubeconfig.fromFiles(present);
    }
    const home = join(env.HOME || homedir(), '.kube', 'config');
    if (existsSync(home)) return Kubeconfig.fromFiles([home]);
    if (env.KUBERNETES_SERVICE_HOST) return Kubeconfig.inCluster(env);
    throw new KubeconfigError('no Kubernetes cluster configured: set KUBECONFIG or pass --kubeconfig');
  }

  getCurrentCluster(): { server: string; skipTLSVerify?: boolean; name: string } {
    return {
      name: this.cluster.name,
      server: this.cluster.server!,
      skipTLSVerify: Boolean(this.cluster['insecure-skip-tls-verify']),
    };
  }

  /** TLS material and the Authorization header, read now (files and exec plugins included). */
  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const c = this.cluster;
    const u = this.user;
    const ca = c['certificate-authority-data']
      ? b64(c['certificate-authority-data'])
      : c['certificate-authority']
        ? readFileSync(pathIn(this.clusterFile, c['certificate-authority']), 'utf8')
        : undefined;
    if (ca) opts.ca = ca;
    if (c['tls-server-name']) opts.servername = c['tls-server-name'];
    const cert = u['client-certificate-data']
      ? b64(u['client-certificate-data'])
      : u['client-certificate']
        ? readFileSync(pathIn(this.userFile, u['client-certificate']), 'utf8')
        : undefined;
    const key = u['client-key-data']
      ? b64(u['client-key-data'])
      : u['client-key']
        ? readFileSync(pathIn(this.userFile, u['client-key']), 'utf8')
        : undefined;
    if (cert && key) {
      opts.cert = cert;
      opts.key = key;
    }
    const headers: Record<string, string> = {};
    if (u.exec) {
      const cred = await this.execCredential(u.exec);
      if (cred?.token) headers.Authorization = `Bearer ${cred.token}`;
      if (cred?.clientCertificateData && cred.clientKeyData) {
        opts.cert = cred.clientCertificateData;
        opts.key = cred.clientKeyData;
      }
    } else if (u.tokenFile) {
      headers.Authorization = `Bearer ${readFileSync(pathIn(this.userFile, u.tokenFile), 'utf8').trim()}`;
    } else if (u.token) {
      headers.Authorization = `Bearer ${u.token}`;
    } else if (u.username !== undefined && u.password !== undefined) {
      headers.Authorization = `Basic ${Buffer.from(`${u.username}:${u.password}`).toString('base64')}`;
    }
    if (Object.keys(headers).length) opts.headers = { ...(opts.headers as Record<string, string>), ...headers };
  }

  /** Runs the exec plugin, or reuses its last answer until 10 s before it expires (15 min without expiry). */
  private async execCredential(exec: ExecConfig): Promise<ExecCredential['status']> {
    const now = Date.now();
    if (this.exec && now < this.exec.expires) return this.exec.cred;
    const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
    const env = { ...process.env };
    for (const e of exec.env ?? []) env[e.name] = e.value;
    env.KUBERNETES_EXEC_INFO = JSON.stringify({
      apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: this.cluster.server } },
    });
    const command = exec.command.includes('/') ? pathIn(this.userFile, exec.command) : exec.command;
    const stdout = await new Promise<string>((ok, fail) =>
      execFile(command, exec.args ?? [], { env, timeout: 60_000, maxBuffer: 1 << 20 }, (err, out, stderr) =>
        err
          ? fail(new KubeconfigError(`exec credential plugin ${exec.command}: ${String(stderr).trim() || err.message}`))
          : ok(out),
      ),
    );
    let cred: ExecCredential;
    try {
      cred = JSON.parse(stdout) as ExecCredential;
    } catch {
      throw new KubeconfigError(`exec credential plugin ${exec.command} did not print an ExecCredential`);
    }
    const expiresAt = Date.parse(cred.status?.expirationTimestamp ?? '');
    this.exec = {
      at: now,
      expires: Number.isNaN(expiresAt) ? now + 15 * 60_000 : expiresAt - 10_000,
      cred: cred.status,
    };
    return cred.status;
  }
}

/**
 * The yaml package, loaded at the first kubeconfig file: a component in a Pod reads the in-cluster ServiceAccount
 * and never needs it (the proxy's start: 1.3 MiB less RSS, 0.7 MiB less heap, bench/proxy-memory.bench.ts). By
 * require: the loading APIs here are synchronous.
 */
let yamlParse: typeof import('yaml').parse | undefined;

function parseDoc(yaml: string, file?: string): KubeconfigDoc {
  let doc: unknown;
  try {
    yamlParse ??= (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse;
    doc = yamlParse(yaml);
  } catch (err) {
    throw new KubeconfigError(`${file ?? 'kubeconfig'}: not YAML: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object') throw new KubeconfigError(`${file ?? 'kubeconfig'}: not a kubeconfig`);
  return doc;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
