-- Whoever cancels a booking may say why (an expert who is unwell, say); the
-- other side reads it with the booking's status.
ALTER TABLE bookings ADD COLUMN cancel_reason text CHECK (length(cancel_reason) <= 300);
