/**
 * Host services, the tsyringe way. The services a machine needs from its
 * host (the OS layer {@link HOST_OS}, the {@link CLOCK}, the error-report
 * sink {@link ERROR_REPORT_SINK}) are registered under injection tokens in
 * a tsyringe container that a {@link MachineContext} owns. Code resolves
 * them from the *current* context: the one whose {@link MachineContext.run}
 * is on the (async) call stack, or the process-wide root context.
 *
 * An embedder or a test gives one machine its own services by making a
 * child context, registering substitutes in it, and building the machine
 * inside `run()`:
 *
 * ```ts
 * const ctx = new MachineContext();
 * ctx.register(HOST_OS, new FaultyHostOs());
 * await ctx.run(async () => {
 *   // objects created here resolve the faulty OS layer; others don't
 * });
 * ```
 *
 * Objects resolve their services when they are created and keep them, so
 * callbacks that run later (socket events, timers) use the services of the
 * context the object was made in. What stays process-wide, as in QEMU: the
 * QOM type table and the composition tree (`/`, `/objects`, `/machine`),
 * and the system address space.
 * @module
 */
import 'reflect-metadata';
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  type DependencyContainer,
  type InjectionToken,
  container as tsyringeRoot,
  instanceCachingFactory,
} from 'tsyringe';
import { HOST_OS, HostOs } from '../native/host.js';
import { CLOCK, HostClock } from './clock.js';
import { ERROR_REPORT_SINK, stderrErrorReportSink } from './error-report.js';

const currentContext = new AsyncLocalStorage<MachineContext>();
let rootContext: MachineContext | null = null;
let makingRoot = false;

/**
 * A container of host services for one machine (or the whole process: the
 * root context). Child contexts inherit every registration of their parent
 * and may override any of them.
 */
export class MachineContext {
  /** The tsyringe container that holds this context's registrations. */
  readonly container: DependencyContainer;
  /** The context this one inherits from (null for the root). */
  readonly parent: MachineContext | null;

  /**
   * Makes a child of `parent` (default: the root context). The root itself
   * is {@link MachineContext.root}.
   */
  constructor(parent?: MachineContext) {
    if (makingRoot) {
      // The root wraps tsyringe's global container, so services an
      // application registers there are seen everywhere.
      this.parent = null;
      this.container = tsyringeRoot;
      return;
    }
    this.parent = parent ?? MachineContext.root;
    this.container = this.parent.container.createChildContainer();
  }

  /** The process-wide context, with the host's real services. */
  static get root(): MachineContext {
    if (rootContext === null) {
      makingRoot = true;
      let root: MachineContext;
      try {
        root = new MachineContext();
      } finally {
        makingRoot = false;
      }
      rootContext = root;
      // HostOs is a tsyringe singleton: HOST_OS follows whatever is
      // registered for the class, so both spellings give one instance.
      if (!root.container.isRegistered(HOST_OS)) {
        root.container.register(HOST_OS, { useToken: HostOs });
      }
      if (!root.container.isRegistered(CLOCK)) {
        root.container.register(CLOCK, {
          useFactory: instanceCachingFactory(() => new HostClock()),
        });
      }
      if (!root.container.isRegistered(ERROR_REPORT_SINK)) {
        root.container.register(ERROR_REPORT_SINK, { useValue: stderrErrorReportSink });
      }
    }
    return rootContext;
  }

  /** The context of the running code: the innermost `run()`, else the root. */
  static current(): MachineContext {
    return currentContext.getStore() ?? MachineContext.root;
  }

  /**
   * Runs `fn` with this context as the current one, including everything
   * `fn` schedules (promises, timers, sockets it creates). Returns what
   * `fn` returns.
   */
  run<T>(fn: () => T): T {
    return currentContext.run(this, fn);
  }

  /** Registers `value` for `token` in this context (replacing an earlier one here). */
  register<T>(token: InjectionToken<T>, value: T): this {
    this.container.register(token, { useValue: value });
    return this;
  }

  /** The service registered for `token` here or in an ancestor. */
  resolve<T>(token: InjectionToken<T>): T {
    return this.container.resolve(token);
  }
}

/** The OS layer of the current context. */
export function hostOs(): HostOs {
  return MachineContext.current().resolve(HOST_OS);
}
