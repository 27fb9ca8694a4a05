import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { Link, Route, Switch, useLocation } from 'wouter';
import { useLiveEvents } from './live.ts';
import { time } from './format.ts';
import { FleetPage } from './pages/Fleet.tsx';
import { HostPage } from './pages/Host.tsx';
import { VmsPage } from './pages/Vms.tsx';
import { VmPage } from './pages/Vm.tsx';
import { ComposePage } from './pages/Compose.tsx';
import './styles.css';

const queryClient = new QueryClient({ defaultOptions: { queries: { staleTime: 2000, retry: 1, refetchOnWindowFocus: false } } });

function Nav() {
  const [location] = useLocation();
  const item = (href: string, label: string, active: boolean) => (
    <li>
      <Link href={href} aria-current={active ? 'page' : undefined}>
        {label}
      </Link>
    </li>
  );
  return (
    <nav aria-label="Main">
      <ul>
        {item('/', 'Fleet', location === '/' || location.startsWith('/hosts'))}
        {item('/vms', 'VMs', location.startsWith('/vms'))}
        {item('/compose', 'Compose a VM', location === '/compose')}
      </ul>
    </nav>
  );
}

function Activity() {
  const { feed, connected, received } = useLiveEvents();
  return (
    // Focusable: the feed scrolls, and a scrollable region must be reachable by keyboard (axe: scrollable-region-focusable).
    <aside aria-label="Activity" tabIndex={0}>
      <h2>
        Activity <span className={connected ? 'live on' : 'live'}>{connected ? 'live' : 'reconnecting'}</span>
      </h2>
      <p className="muted" data-testid="events-received">
        {received} events
      </p>
      <div role="log" aria-live="off">
        <ol className="feed" data-testid="feed">
          {feed.map((e, i) => (
            <li key={`${e.streamId}-${e.type}-${i}`} data-stream={e.streamId} data-type={e.type}>
              <time>{time(e.occurredAt)}</time> <strong>{e.type}</strong> <span className="muted">{e.streamId}</span>
            </li>
          ))}
        </ol>
      </div>
    </aside>
  );
}

function App() {
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span className="brand">Berth</span>
        <Nav />
      </header>
      <div className="layout">
        <main id="main" tabIndex={-1}>
          <Switch>
            <Route path="/" component={FleetPage} />
            <Route path="/hosts/:id">{(p) => <HostPage hostId={decodeURIComponent(p.id)} />}</Route>
            <Route path="/vms" component={VmsPage} />
            <Route path="/vms/:id">{(p) => <VmPage vmId={decodeURIComponent(p.id)} />}</Route>
            <Route path="/compose" component={ComposePage} />
            <Route>
              <h1>Not found</h1>
            </Route>
          </Switch>
        </main>
        <Activity />
      </div>
    </>
  );
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
