import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { makeLedger, type TestLedger, TEST_DOC_TYPES } from './ledger.js';
import { createApp } from '../../src/api/app.js';
import { loadKeys } from '../../src/ledger/keyfiles.js';
import { DojangClient } from '../../src/client/sdk.js';
import { WalletStore, postgresKv } from '../../src/storage/wallet-store.js';

/** A served development ledger with its personal data store, over real HTTP: in LevelDB, or in the ledger's PostgreSQL database under `npm run test:postgres`. */
export interface WalletServer {
  t: TestLedger;
  wallets: WalletStore;
  base: string;
  root: Uint8Array;
  /** A client of the server (its clock is the real one). */
  client(opts?: ConstructorParameters<typeof DojangClient>[1]): DojangClient;
  /** The API's clock (ms) for the store and POST /v1/verify; the ledger keeps the real one. */
  clock: { ms: number | undefined };
  close(): Promise<void>;
}

export async function serveWithWallets(origin = 'example.com/wallet-test'): Promise<WalletServer> {
  const t = await makeLedger({ docTypes: TEST_DOC_TYPES }, origin);
  const wallets = new WalletStore(t.storeUrl === undefined ? join(t.dir, 'wallets') : postgresKv(t.storeUrl));
  await wallets.open();
  const clock: { ms: number | undefined } = { ms: undefined };
  const server: Server = createServer(createApp({ ledger: t.ledger, wallets, clock: () => clock.ms ?? Date.now() }).callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    t,
    wallets,
    base,
    root: (await loadKeys(t.dir)).root!.seed,
    client: (opts) => new DojangClient(base, opts),
    clock,
    async close() {
      await new Promise((r) => server.close(r));
      await wallets.close().catch(() => {});
      await t.cleanup();
    },
  };
}
