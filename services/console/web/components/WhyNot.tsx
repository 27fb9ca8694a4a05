import type { ReactNode } from 'react';

/** A button that, when it cannot be used, says why (visible text, and the button's description). */
export function ActionButton({
  id,
  onClick,
  whyNot,
  children,
  kind,
}: {
  id: string;
  onClick: () => void;
  whyNot?: string | undefined;
  children: ReactNode;
  kind?: 'danger' | 'primary';
}) {
  const reasonId = `${id}-why-not`;
  return (
    <span className="action">
      <button
        type="button"
        className={kind}
        disabled={whyNot !== undefined}
        aria-describedby={whyNot ? reasonId : undefined}
        onClick={onClick}
        data-testid={id}
      >
        {children}
      </button>
      {whyNot ? (
        <span className="why-not" id={reasonId}>
          {whyNot}
        </span>
      ) : null}
    </span>
  );
}
