import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate and its key: PEM contents, and the files they are in. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** Certificates made for one test run; nothing is committed, the directory is removed by cleanup(). */
export interface TestCerts {
  readonly dir: string;
  /** The CA that signed `server` and `client`. */
  readonly ca: CertPair;
  /** For 127.0.0.1 and localhost (subjectAltName), serverAuth. */
  readonly server: CertPair;
  /** clientAuth, signed by `ca`. */
  readonly client: CertPair;
  /** clientAuth, signed by another CA that the server does not trust. */
  readonly rogueClient: CertPair;
  cleanup(): Promise<void>;
}

const kCurve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function pair(dir: string, name: string): Promise<CertPair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile, keyFile };
}

async function makeCa(dir: string, name: string): Promise<CertPair> {
  await run('openssl', [
    'req',
    '-x509',
    ...kCurve,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    join(dir, `${name}.crt`),
    '-days',
    '2',
    '-subj',
    `/CN=gworker test ${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return pair(dir, name);
}

async function makeLeaf(dir: string, name: string, ca: CertPair, extensions: string): Promise<CertPair> {
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await run('openssl', [
    'req',
    '-new',
    ...kCurve,
    '-keyout',
    join(dir, `${name}.key`),
    '-out',
    csr,
    '-subj',
    `/CN=${name}`,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    String(Date.now()),
    '-days',
    '2',
    '-out',
    join(dir, `${name}.crt`),
    '-extfile',
    ext,
  ]);
  return pair(dir, name);
}

/**
 * Makes a CA, a server certificate for 127.0.0.1 and localhost, a client certificate,
 * and a client certificate from a CA nobody trusts, with openssl, in a fresh temporary
 * directory (EC P-256 keys: quick to make).
 */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'gworker-certs-'));
  const ca = await makeCa(dir, 'ca');
  const rogueCa = await makeCa(dir, 'rogue-ca');
  const leaf = 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n';
  const [server, client, rogueClient] = await Promise.all([
    makeLeaf(
      dir,
      'server',
      ca,
      `${leaf}extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n`,
    ),
    makeLeaf(dir, 'client', ca, `${leaf}extendedKeyUsage=clientAuth\n`),
    makeLeaf(dir, 'rogue-client', rogueCa, `${leaf}extendedKeyUsage=clientAuth\n`),
  ]);
  return { dir, ca, server, client, rogueClient, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
