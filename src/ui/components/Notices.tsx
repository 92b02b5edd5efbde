import { useEffect } from 'react';
import { useApp, type Notice } from '../store';

const INFO_LIFETIME_MS = 6000;

export function Notices() {
  const notices = useApp((s) => s.notices);
  return (
    <div className="notices" aria-live="assertive">
      {notices.map((n) => (
        <NoticeItem key={n.id} notice={n} />
      ))}
    </div>
  );
}

function NoticeItem({ notice }: { notice: Notice }) {
  const dismiss = useApp((s) => s.dismissNotice);
  useEffect(() => {
    // Errors stay until dismissed (the person needs to read why their file was refused), and so
    // do notices that offer an action.
    if (notice.kind === 'error' || notice.action) return;
    const timer = setTimeout(() => dismiss(notice.id), INFO_LIFETIME_MS);
    return () => clearTimeout(timer);
  }, [notice, dismiss]);
  return (
    <div className={`notice notice-${notice.kind}`} role={notice.kind === 'error' ? 'alert' : 'status'} data-testid={`notice-${notice.kind}`}>
      <span className="notice-text">{notice.text}</span>
      {notice.action && (
        <button
          className="btn btn-small"
          onClick={() => {
            // An action answers the notice: it goes, and what follows reports for itself.
            dismiss(notice.id);
            notice.action!.run();
          }}
        >
          {notice.action.label}
        </button>
      )}
      <button className="icon-btn" onClick={() => dismiss(notice.id)} aria-label="Dismiss">
        ✕
      </button>
    </div>
  );
}
