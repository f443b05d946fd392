import type { ServiceContext } from "../services/context";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    services: ServiceContext;
  };
};
